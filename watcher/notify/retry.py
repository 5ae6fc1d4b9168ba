"""Retrying one delivery: tenacity with exponential backoff, jitter and ``Retry-After``.

One helper for every integration. Waits go through the injected ``sleep`` (the dispatcher's
clock) and ``set_testing(True)`` makes them zero, like stamina's ``set_testing``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from watcher.errors import NotifyError

_testing = False


def set_testing(on: bool) -> None:
    """Make every retry and outbox backoff wait zero seconds (tests)."""
    global _testing  # noqa: PLW0603 - a process-wide test switch, by design
    _testing = on


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one delivery tries before the outbox takes over.

    ``attempts`` tries within one delivery, waiting ``initial * 2**n`` (capped at ``maximum``)
    plus up to ``jitter`` seconds between them, or upstream's ``Retry-After`` when it is at most
    ``maximum``; a longer ``Retry-After`` ends the delivery and the outbox waits it out.
    Between deliveries the outbox waits ``outbox_initial * 2**failures``, capped at
    ``outbox_maximum``.
    """

    attempts: int = 4
    initial: float = 1.0
    maximum: float = 30.0
    jitter: float = 1.0
    outbox_initial: float = 10.0
    outbox_maximum: float = 300.0

    def backoff(self, failures: int, retry_after: float | None) -> float:
        """Seconds the outbox waits after ``failures`` failed deliveries."""
        if _testing:
            return 0.0
        wait = min(self.outbox_maximum, self.outbox_initial * 2 ** max(0, failures - 1))
        wait += random.uniform(0, self.jitter)
        return float(max(wait, retry_after or 0.0))


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, NotifyError) and not exc.permanent


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return exc.retry_after if isinstance(exc, NotifyError) else None


async def deliver_with_retries(
    attempt: Callable[[], Awaitable[None]],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]],
    on_failure: Callable[[NotifyError], None],
) -> None:
    """Run ``attempt`` until it succeeds; re-raise the last ``NotifyError`` when giving up.

    ``on_failure`` sees every failed attempt (to log and count it). Permanent errors (HTTP 4xx
    other than 408/429) are not retried here.
    """

    def wait(state: RetryCallState) -> float:
        if _testing:
            return 0.0
        hint = _retry_after(state)
        if hint is not None:
            return hint
        n = state.attempt_number - 1
        return float(min(policy.maximum, policy.initial * 2**n) + random.uniform(0, policy.jitter))

    def stop(state: RetryCallState) -> bool:
        hint = _retry_after(state)
        too_long = hint is not None and hint > policy.maximum
        return too_long or stop_after_attempt(policy.attempts)(state)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, NotifyError):
            on_failure(exc)

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(_transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        async for try_ in retrying:
            with try_:
                await attempt()
    except NotifyError as exc:
        on_failure(exc)
        raise
