"""Retrying, in one place: tenacity with explicit exception types, bounded attempts and time,
exponential backoff with jitter, upstream ``Retry-After`` hints, and a hook that logs each retry.

Tests call ``set_testing(True)`` so waits are zero (the idea of stamina's ``set_testing``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
import tenacity

T = TypeVar("T")
log = structlog.get_logger()
_testing = False


def set_testing(on: bool) -> None:
    """Make every backoff wait zero (tests) or real (production)."""
    global _testing  # noqa: PLW0603 - a process-wide switch, by design
    _testing = on


def is_testing() -> bool:
    """Whether backoff waits are zeroed."""
    return _testing


async def retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    on: tuple[type[BaseException], ...],
    attempts: int = 3,
    max_delay: float = 30.0,
    initial: float = 0.5,
    maximum: float = 10.0,
    jitter: float = 1.0,
    what: str = "request",
    on_retry: Callable[[BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    retryable: Callable[[BaseException], bool] | None = None,
    hint: Callable[[BaseException], float | None] | None = None,
) -> T:
    """Await ``call()`` until it succeeds, retrying ``on`` exceptions with jittered backoff.

    Gives up after ``attempts`` tries or ``max_delay`` seconds and re-raises the last error.
    ``retryable`` can refuse to retry some of those errors (permanent ones). ``hint`` reads an
    upstream wait (``Retry-After``) from an error: it replaces the backoff when at most
    ``maximum``; a longer one ends the retries so the caller can wait it out elsewhere.
    ``on_retry`` sees each error that will be retried (to count it).
    """

    def upstream_wait(state: tenacity.RetryCallState) -> float | None:
        exc = state.outcome.exception() if state.outcome else None
        return hint(exc) if hint is not None and exc is not None else None

    backoff = tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=jitter)

    def wait(state: tenacity.RetryCallState) -> float:
        if _testing:
            return 0.0
        upstream = upstream_wait(state)
        return upstream if upstream is not None else float(backoff(state))

    bounded = tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(max_delay)

    def stop(state: tenacity.RetryCallState) -> bool:
        upstream = upstream_wait(state)
        return (upstream is not None and upstream > maximum) or bounded(state)

    def should_retry(exc: BaseException) -> bool:
        return isinstance(exc, on) and (retryable is None or retryable(exc))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None and on_retry is not None:
            on_retry(exc)
        log.info(
            "retry.scheduled",
            what=what,
            attempt=state.attempt_number,
            wait=round(state.upcoming_sleep, 3),
            error=str(exc),
        )

    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(should_retry),
        stop=stop,
        wait=wait,
        before_sleep=before_sleep,
        reraise=True,
        sleep=sleep or asyncio.sleep,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
