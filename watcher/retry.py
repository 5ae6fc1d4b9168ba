"""Retrying, in one place: tenacity with explicit exception types, bounded attempts and time,
exponential backoff with jitter and a hook that logs each retry.

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


async def retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    on: tuple[type[BaseException], ...],
    attempts: int = 3,
    max_delay: float = 30.0,
    initial: float = 0.5,
    maximum: float = 10.0,
    what: str = "request",
    on_retry: Callable[[BaseException], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> T:
    """Await ``call()`` until it succeeds, retrying ``on`` exceptions with jittered backoff.

    Gives up after ``attempts`` tries or ``max_delay`` seconds and re-raises the last error.
    ``on_retry`` sees each error that will be retried (to count it).
    """

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

    wait: tenacity.wait.wait_base = (
        tenacity.wait_none()
        if _testing
        else tenacity.wait_exponential_jitter(initial=initial, max=maximum)
    )
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type(on),
        stop=tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(max_delay),
        wait=wait,
        before_sleep=before_sleep,
        reraise=True,
        sleep=sleep or asyncio.sleep,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
