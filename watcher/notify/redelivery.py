"""Retrying one delivery: tenacity with exponential backoff, jitter and ``Retry-After``.

The policy of notification delivery on top of the one retry helper, ``watcher.retry``. Waits
go through the injected ``sleep`` (the dispatcher's clock) and ``watcher.retry.set_testing(True)`` makes
them zero, like stamina's ``set_testing``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from watcher.errors import NotifyError
from watcher.retry import is_testing, retry_async

__all__ = ["DeliveryPolicy", "deliver_with_retries"]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
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
        if is_testing():
            return 0.0
        wait = min(self.outbox_maximum, self.outbox_initial * 2 ** max(0, failures - 1))
        wait += random.uniform(0, self.jitter)
        return float(max(wait, retry_after or 0.0))


async def deliver_with_retries(
    attempt: Callable[[], Awaitable[None]],
    *,
    policy: DeliveryPolicy,
    sleep: Callable[[float], Awaitable[None]],
    on_failure: Callable[[NotifyError], None],
) -> None:
    """Run ``attempt`` until it succeeds; re-raise the last ``NotifyError`` when giving up.

    ``on_failure`` sees every failed attempt (to log and count it). Permanent errors (HTTP 4xx
    other than 408/429) are not retried here; a ``Retry-After`` longer than ``policy.maximum``
    ends the delivery and the outbox waits it out.
    """

    def failed(exc: BaseException) -> None:
        if isinstance(exc, NotifyError):
            on_failure(exc)

    try:
        await retry_async(
            attempt,
            on=(NotifyError,),
            attempts=policy.attempts,
            max_delay=float("inf"),
            initial=policy.initial,
            maximum=policy.maximum,
            jitter=policy.jitter,
            what="notification",
            on_retry=failed,
            sleep=sleep,
            retryable=lambda exc: isinstance(exc, NotifyError) and not exc.permanent,
            hint=lambda exc: exc.retry_after if isinstance(exc, NotifyError) else None,
        )
    except NotifyError as exc:
        on_failure(exc)
        raise
