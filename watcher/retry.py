"""Retrying, in one place: tenacity with explicit exception types, bounded attempts and time,
exponential backoff with jitter, upstream ``Retry-After`` hints, and a hook that logs each retry.

Tests call ``set_testing(True)`` so waits are zero (the idea of stamina's ``set_testing``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import TypedDict, TypeVar, Unpack

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


#: The longest pause an upstream hint can ask for: CoinW's longest ban (an 8 h blacklist). A
#: longer ``Retry-After`` (or ``inf``) is read as this, so no answer can stop a key for good.
MAX_RETRY_AFTER = 8 * 3600.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds (a decimal fraction is
    taken too) or an HTTP-date, at most ``MAX_RETRY_AFTER``; None when absent or unreadable
    (negative, NaN, text that is neither), so the caller's own backoff applies."""
    if not value or not (text := value.strip()):
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return min(MAX_RETRY_AFTER, max(0.0, seconds))
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(MAX_RETRY_AFTER, seconds)


class RetryPolicy:
    """One retry policy (built once, e.g. per source), applied to many calls.

    The first attempt runs bare: a call that succeeds, or fails with an error that is not
    retried, costs one ``await`` and no tenacity machinery. Only after a retryable failure is a
    tenacity loop built, with the first failure replayed as its attempt 1, so attempts, waits,
    ``Retry-After`` hints and ``max_delay`` (counted from the first attempt's start) behave
    exactly as one tenacity loop around every attempt would.
    """

    def __init__(
        self,
        *,
        on: tuple[type[BaseException], ...],
        attempts: int = 3,
        max_delay: float = 30.0,
        initial: float = 0.5,
        maximum: float = 10.0,
        jitter: float = 1.0,
        what: str = "request",
        sleep: Callable[[float], Awaitable[None]] | None = None,
        retryable: Callable[[BaseException], bool] | None = None,
        hint: Callable[[BaseException], float | None] | None = None,
    ) -> None:
        self._on = on
        self._attempts = attempts
        self._max_delay = max_delay
        self._maximum = maximum
        self._what = what
        self._sleep = sleep or asyncio.sleep
        self._retryable = retryable
        self._hint = hint
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=initial, max=maximum, jitter=jitter
        )

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one of the errors this policy retries."""
        return isinstance(exc, self._on) and (self._retryable is None or self._retryable(exc))

    async def __call__(
        self,
        call: Callable[[], Awaitable[T]],
        on_retry: Callable[[BaseException], None] | None = None,
        *,
        what: str | None = None,
    ) -> T:
        """Await ``call()`` under this policy; ``on_retry`` sees each error that is retried.

        ``what`` names the call in the retry log instead of the policy's ``what``.
        """
        started = time.monotonic()
        try:
            return await call()
        except BaseException as exc:
            if not self.should_retry(exc):
                raise
            first: BaseException = exc
        return await self._retry(call, first, time.monotonic() - started, on_retry, what)

    async def _retry(
        self,
        call: Callable[[], Awaitable[T]],
        first: BaseException,
        spent: float,
        on_retry: Callable[[BaseException], None] | None,
        what: str | None,
    ) -> T:
        replayed = False

        async def attempt() -> T:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first
            return await call()

        def upstream_wait(state: tenacity.RetryCallState) -> float | None:
            exc = state.outcome.exception() if state.outcome else None
            return self._hint(exc) if self._hint is not None and exc is not None else None

        def wait(state: tenacity.RetryCallState) -> float:
            if _testing:
                return 0.0
            upstream = upstream_wait(state)
            return upstream if upstream is not None else float(self._backoff(state))

        def stop(state: tenacity.RetryCallState) -> bool:
            upstream = upstream_wait(state)
            if upstream is not None and upstream > self._maximum:
                return True
            # tenacity's clock started after attempt 1 had already taken ``spent``.
            elapsed = spent + (state.seconds_since_start or 0.0)
            return state.attempt_number >= self._attempts or elapsed >= self._max_delay

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if exc is not None and on_retry is not None:
                on_retry(exc)
            log.info(
                "retry.scheduled",
                what=what or self._what,
                attempt=state.attempt_number,
                wait=round(state.upcoming_sleep, 3),
                error=str(exc),
            )

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(self.should_retry),
            stop=stop,
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
            sleep=self._sleep,
        )
        out: T = await retrying(attempt)
        return out


class RetryOptions(TypedDict, total=False):
    """``RetryPolicy``'s settings but ``on``, as ``retry_async`` takes them."""

    attempts: int
    max_delay: float
    initial: float
    maximum: float
    jitter: float
    what: str
    sleep: Callable[[float], Awaitable[None]] | None
    retryable: Callable[[BaseException], bool] | None
    hint: Callable[[BaseException], float | None] | None


async def retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    on: tuple[type[BaseException], ...],
    on_retry: Callable[[BaseException], None] | None = None,
    **options: Unpack[RetryOptions],
) -> T:
    """Await ``call()`` until it succeeds, retrying ``on`` exceptions with jittered backoff.

    Gives up after ``attempts`` tries or ``max_delay`` seconds and re-raises the last error.
    ``retryable`` can refuse to retry some of those errors (permanent ones). ``hint`` reads an
    upstream wait (``Retry-After``) from an error: it replaces the backoff when at most
    ``maximum``; a longer one ends the retries so the caller can wait it out elsewhere.
    ``on_retry`` sees each error that will be retried (to count it). A caller making many calls
    with one policy builds a ``RetryPolicy`` once instead.
    """
    return await RetryPolicy(on=on, **options)(call, on_retry)
