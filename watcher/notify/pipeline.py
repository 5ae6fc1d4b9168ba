"""Delivery: one worker per receiver integration, as in Alertmanager's notification pipeline.

Alertmanager (``notify/notify.go``, ``dispatch/dispatch.go``) runs, for each integration of a
flushed group, wait → dedup → retry → set-notifies in its own goroutine, under a context that
ends ``max(group_interval, notify.MinTimeout = 10s)`` after the flush; the retry stage tries
again with exponential backoff until that context ends, and Slack and webhook integrations may
bound each request with their own ``timeout`` (default 0s: none). Here the flush has already
deduplicated against the notification log and queued the message in the outbox, in one
transaction, so a restart neither repeats nor loses it. What remains is the per-integration
part: a worker per target (``receiver/integration[index]``) takes its oldest due row, retries
it within the row's deadline, and deletes it once sent. A webhook that hangs therefore holds up
its own worker and nothing else.

The workers run under one ``TaskGroup``. A worker that crashes is logged, counted in
``watcher_loop_crashes_total{loop="deliver"}`` and restarted. A delivery in flight is a task of
its own, so stopping the workers (SIGTERM) does not abandon a request the receiver may already
have: ``drain`` waits for it instead of sending a second copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from watcher.clock import Clock
from watcher.config.model import NOTIFICATION_QUEUE_CAPACITY
from watcher.errors import NotifyError
from watcher.metrics import WatcherMetrics
from watcher.notify.base import Deliverer
from watcher.notify.outbox import Outbox, Row, TargetKey
from watcher.notify.redelivery import DeliveryPolicy, deliver_with_retries
from watcher.waits import cancel_and_wait, pause, within

log = structlog.get_logger(__name__)


MIN_TIMEOUT = 10.0  # Alertmanager's notify.MinTimeout
MAX_IDLE = 60.0  # a worker looks at its rows at least this often, woken or not
RESTART_MAX = 60.0  # a crashed worker restarts after 1 s, 2 s, 4 s ... at most this


def dispatch_timeout(group_interval: float) -> float:
    """How long one delivery may take, retries included (Alertmanager's ``timeoutFunc``)."""
    return max(group_interval, MIN_TIMEOUT)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A target's deliverer and its per-request timeout (0: none but the row's deadline)."""

    deliverer: Deliverer
    timeout: float = 0.0


def _where(target: TargetKey) -> dict[str, str]:
    return {"receiver": target[0], "integration": f"{target[1]}[{target[2]}]"}


class Delivery:
    """Delivers the outbox: one supervised worker per target."""

    def __init__(
        self, outbox: Outbox, *, clock: Clock, metrics: WatcherMetrics, retry: DeliveryPolicy
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._metrics = metrics
        self._retry = retry
        self._endpoints: dict[TargetKey, Endpoint] = {}
        self._wake: dict[TargetKey, asyncio.Event] = {}
        self._workers: dict[TargetKey, asyncio.Task[None]] = {}
        self._inflight: dict[TargetKey, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._capacity = NOTIFICATION_QUEUE_CAPACITY
        self._metrics.loop_crashes.labels(loop="deliver")

    def configure(
        self, endpoints: Mapping[TargetKey, Endpoint], capacity: int = NOTIFICATION_QUEUE_CAPACITY
    ) -> None:
        """Use these targets and outbox capacity; drop the rows of targets no longer there."""
        self._endpoints = dict(endpoints)
        self._capacity = capacity
        self._metrics.notification_queue_capacity.set(capacity)
        for target in self._outbox.targets() - set(self._endpoints):
            dropped = self._outbox.drop_target(target)
            log.warning(
                "notify.dropped",
                **_where(target),
                notifications=dropped,
                reason="integration no longer configured",
            )
        self._metrics.notification_queue_length.set(len(self._outbox))
        if self._tg is not None:
            self._reconcile(self._tg)
        for event in self._wake.values():
            event.set()

    def enqueue(
        self,
        key: str,
        target: TargetKey,
        payload: dict[str, Any],
        now: float,
        timeout: float,
        firing: int,
    ) -> None:
        """Queue a notification (in the caller's transaction) within the outbox's capacity.

        ``timeout`` bounds its delivery, retries included; ``firing`` counts its firing
        alerts: a full outbox drops the oldest rows without any first, a firing one never.
        """
        receiver, integration, index = target
        self._outbox.put(
            key,
            receiver=receiver,
            integration=integration,
            index=index,
            payload=payload,
            now=now,
            timeout=timeout,
            firing=firing,
        )
        dropped, excess = self._outbox.evict_over(self._capacity)
        if dropped or excess:
            self._metrics.notification_queue_overflows.inc()
            for row in dropped:
                where = {"receiver": row.receiver, "integration": row.integration}
                self._metrics.notifications_dropped.labels(**where).inc()
            log.error(
                "notify.queue_full",
                capacity=self._capacity,
                dropped_resolved=len(dropped),
                firing_over_capacity=excess,
            )

    def wake(self, target: TargetKey) -> None:
        """Tell ``target``'s worker that a row was queued."""
        self._metrics.notification_queue_length.set(len(self._outbox))
        event = self._wake.get(target)
        if event is not None:
            event.set()

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run a worker per target until cancelled."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            try:
                self._reconcile(tg)
                await asyncio.get_running_loop().create_future()  # until cancelled
            finally:
                self._tg = None
                self._workers.clear()

    def _reconcile(self, tg: asyncio.TaskGroup) -> None:
        for target in set(self._workers) - set(self._endpoints):
            self._workers.pop(target).cancel()
        for target in set(self._endpoints) - set(self._workers):
            name = "deliver:{}/{}[{}]".format(*target)
            self._workers[target] = tg.create_task(self._supervise(target), name=name)

    async def _supervise(self, target: TargetKey) -> None:
        crashes = 0
        while True:
            try:
                await self._work(target)
            except Exception:
                crashes += 1
                wait = min(RESTART_MAX, 2.0 ** (crashes - 1))
                log.exception("notify.worker_crashed", **_where(target), restart_in=wait)
                self._metrics.loop_crashes.labels(loop="deliver").inc()
                await self._clock.sleep(wait)

    async def _work(self, target: TargetKey) -> None:
        wake = self._wake.setdefault(target, asyncio.Event())
        while True:
            wake.clear()
            await asyncio.shield(self._start(target))
            due = self._outbox.next_due_for(target)
            delay = MAX_IDLE if due is None else due - self._clock.time()
            await pause(self._clock, wake, min(MAX_IDLE, max(0.0, delay)))

    def _start(self, target: TargetKey) -> asyncio.Task[None]:
        """The one task delivering ``target``'s due rows, started if none is running."""
        task = self._inflight.get(target)
        if task is None or task.done():
            task = asyncio.ensure_future(self._deliver_due(target))
            self._inflight[target] = task
        return task

    async def deliver_due(self) -> None:
        """Deliver every due row now, targets concurrently (tests, ``once --send``, drain)."""
        now = self._clock.time()
        due = {t for t in self._outbox.targets() if self._outbox.first_due(t, now)}
        targets = sorted(due | {t for t, task in self._inflight.items() if not task.done()})
        results = await asyncio.gather(*(self._start(t) for t in targets), return_exceptions=True)
        for target, result in zip(targets, results, strict=True):
            if isinstance(result, Exception):
                log.error("notify.worker_crashed", **_where(target), error=repr(result))
                self._metrics.loop_crashes.labels(loop="deliver").inc()

    async def drain(self, timeout: float) -> None:
        """Finish deliveries in flight and deliver what is due, for at most ``timeout`` s."""
        try:
            await within(self._clock, timeout, self.deliver_due())
        except TimeoutError:
            log.warning("notify.drain_timeout", queued=len(self._outbox))
        finally:
            await self.close()

    async def close(self) -> None:
        """Cancel deliveries still in flight."""
        await cancel_and_wait(*self._inflight.values())
        self._inflight.clear()

    # -- one target --------------------------------------------------------------------------

    async def _deliver_due(self, target: TargetKey) -> None:
        # One pass over the rows due now; a row that fails waits for its backoff.
        seen: set[int] = set()
        while (row := self._outbox.first_due(target, self._clock.time())) is not None:
            if row.id in seen:
                break
            seen.add(row.id)
            await self._deliver(row)
        self._metrics.notification_queue_length.set(len(self._outbox))

    async def _deliver(self, row: Row) -> None:
        where = {"receiver": row.receiver, "integration": row.integration}
        endpoint = self._endpoints.get(row.target)
        if endpoint is None:
            log.warning("notify.dropped", **where, reason="integration no longer configured")
            self._outbox.delivered(row.id)
            return

        def on_failure(exc: NotifyError) -> None:
            self._metrics.notifications_failed.labels(**where).inc()
            log.warning("notify.attempt_failed", **where, error=str(exc))

        async def attempt() -> None:
            send = endpoint.deliverer.deliver(row.payload, self._clock.time())
            if endpoint.timeout <= 0:
                await send
                return
            try:
                await within(self._clock, endpoint.timeout, send)
            except TimeoutError:
                msg = f"{row.integration}: no answer within its timeout of {endpoint.timeout:g}s"
                raise NotifyError(msg) from None

        retries = deliver_with_retries(
            attempt, policy=self._retry, sleep=self._clock.sleep, on_failure=on_failure
        )
        try:
            try:
                await within(self._clock, row.timeout, retries)
            except TimeoutError:
                msg = f"{row.integration}: not delivered within the dispatch timeout of {row.timeout:g}s"
                on_failure(NotifyError(msg))
                raise NotifyError(msg) from None
        except NotifyError as exc:
            wait = self._retry.backoff(row.attempts + 1, exc.retry_after)
            self._outbox.failed(row.id, str(exc), self._clock.time() + wait)
            log.warning(
                "notify.failed",
                **where,
                error=str(exc),
                retry_in=round(wait, 1),
                attempts=row.attempts + 1,
            )
            return
        except Exception as exc:
            # A bug in an integration: back the row off so it cannot block its target, and
            # let the supervisor log, count and restart the worker.
            wait = self._retry.backoff(row.attempts + 1, None)
            self._outbox.failed(row.id, type(exc).__name__, self._clock.time() + wait)
            raise
        self._outbox.delivered(row.id)
        self._metrics.notifications.labels(**where).inc()
        log.info("notify.sent", **where)
