"""The embedded Alertmanager: aggregation groups, muting, dedup, then the outbox.

Follows ``dispatch/dispatch.go`` and ``notify/notify.go``: an alert joins one aggregation
group per matching route; a new group flushes after ``group_wait`` (at once if its alert
started longer than ``group_wait`` ago), then every ``group_interval``. A flush drops silenced
and inhibited alerts, asks the notification log whether each integration needs this state
(``needs_update``), queues what it does in the outbox together with the log entry, and
removes the resolved alerts it flushed from the group. Delivery (``pipeline.py``) runs one
worker per receiver integration over the outbox, so ``send`` never waits on HTTP and a slow
receiver never holds up another.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TextIO

import aiohttp
import structlog

from watcher.alerts import Alert
from watcher.clock import Clock
from watcher.config import Config, ReceiverConfig
from watcher.matchers import Matcher
from watcher.metrics import WatcherMetrics
from watcher.notify.alertmanager import (
    RESEND_DELAY,
    AlertmanagerNotifier,
    Forwarder,
    merge,
    valid_for,
)
from watcher.notify.base import AlertStatus
from watcher.notify.data import is_resolved, sort_key
from watcher.notify.inhibit import Inhibitor
from watcher.notify.integrations import Target, build_targets
from watcher.notify.nflog import NotificationLog
from watcher.notify.outbox import Outbox, Row, TargetKey, transaction
from watcher.notify.pipeline import Delivery, Endpoint
from watcher.notify.redelivery import DeliveryPolicy
from watcher.notify.router import Route, build_routes
from watcher.notify.silences import Silence, Silences
from watcher.notify.slack import config_templates
from watcher.notify.stage import WRITE_RETRY, GroupView, NotifyStage
from watcher.timeinterval import in_any
from watcher.waits import pause

__all__ = ["AlertStatus", "Dispatcher"]

log = structlog.get_logger(__name__)


RESOLVED_RETENTION = 15 * 60.0  # Prometheus re-sends resolved alerts this long
MAX_IDLE = 60.0  # the flush loop looks again at least this often, woken or not
GC_EVERY = 60.0


@dataclass(slots=True)
class _Stored:
    alert: Alert
    updated_at: float
    last_seen: float
    #: how long after ``last_seen`` it stays valid; None: the rule engine's ``valid_for``
    lifetime: float | None = None


@dataclass(slots=True)
class _Group:
    route: Route
    labels: dict[str, str]
    key: str
    next_flush: float
    alerts: set[str] = field(default_factory=set)  # fingerprints
    flushed: bool = False

    def view(self) -> GroupView:
        """What the notify stage needs of the group."""
        return GroupView(self.route.config, self.labels, self.key)


def _changed(old: Alert, new: Alert) -> bool:
    return (old.labels, old.annotations, old.starts_at, old.ends_at) != (
        new.labels,
        new.annotations,
        new.starts_at,
        new.ends_at,
    )


class Dispatcher:
    """Routes, groups, dedups and queues notifications; delivers the queue."""

    def __init__(
        self,
        config: Config,
        *,
        db: sqlite3.Connection,
        metrics: WatcherMetrics,
        session: aiohttp.ClientSession,
        clock: Clock,
        console: TextIO = sys.stdout,
        retry: DeliveryPolicy | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._session = session
        self._clock = clock
        self._console = console
        self._nflog = NotificationLog(db)
        self._outbox = Outbox(db, on_error=self._write_failed)
        self._delivery = Delivery(
            self._outbox, clock=clock, metrics=metrics, retry=retry or DeliveryPolicy()
        )
        self._silences = Silences(db)
        self._stage = NotifyStage(db, self._nflog, self._delivery, self._write_failed)
        self._alerts: dict[str, _Stored] = {}
        self._groups: dict[tuple[tuple[int, ...], str], _Group] = {}
        self._forwarder = Forwarder()
        self._flush_wake = asyncio.Event()
        self._metrics.loop_crashes.labels(loop="flush")
        self._last_gc = 0.0
        self.started_at = clock.time()
        self.reload(config)

    # -- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The config in use."""
        return self._config

    def reload(self, config: Config) -> None:
        """Use new routes and receivers; alerts, log, outbox and silences stay."""
        self._config = config
        self._root = build_routes(config.route) if config.route is not None else None
        self._receivers: dict[str, ReceiverConfig] = {r.name: r for r in config.receivers}
        self._inhibitor = Inhibitor(config.inhibit_rules)
        self._timeout = valid_for(config.global_.evaluation_interval)
        self._stage.external_url = config.global_.external_url
        self._targets: dict[str, list[Target]] = {}
        endpoints: dict[TargetKey, Endpoint] = {}
        templates = config_templates(config)
        for r in config.receivers:
            targets = build_targets(r, self._session, self._console, templates)
            self._targets[r.name] = targets
            for t in targets:
                endpoints[t.key] = Endpoint(t.notifier, t.timeout)
            for i, am in enumerate(r.alertmanager_configs):
                endpoints[(r.name, "alertmanager", i)] = Endpoint(
                    AlertmanagerNotifier(am, self._session), am.timeout or am.http.timeout
                )
        for receiver, integration, _ in endpoints:
            where = {"receiver": receiver, "integration": integration}
            self._metrics.notifications.labels(**where)
            self._metrics.notifications_failed.labels(**where)
            self._metrics.notifications_dropped.labels(**where)
        self._delivery.configure(endpoints, config.storage.notification_queue_capacity)
        # Alertmanager rebuilds its groups on reload; the notification log prevents repeats.
        self._groups = {}
        now = self._clock.time()
        for stored in self._alerts.values():
            self._insert(stored.alert, now)
        self._flush_wake.set()

    # -- ingest ----------------------------------------------------------------------------

    async def send(
        self, alerts: Sequence[Alert], now: float, lifetimes: Sequence[float | None] = ()
    ) -> None:
        """Take firing and recently resolved alerts: the rule engine's, valid ``valid_for``
        after each evaluation, or posted ones, valid for their ``lifetimes`` (a posted
        ``endsAt``, or ``global.resolve_timeout`` without one, as Alertmanager keeps them)."""
        for i, a in enumerate(alerts):
            old = self._alerts.get(a.fingerprint)
            updated = now if old is None or _changed(old.alert, a) else old.updated_at
            lifetime = lifetimes[i] if i < len(lifetimes) else None
            self._alerts[a.fingerprint] = _Stored(a, updated, now, lifetime)
            self._insert(a, now)
        self._forward(alerts, now)
        self._flush_wake.set()

    def _insert(self, alert: Alert, now: float) -> None:
        if self._root is None:
            return
        for route in self._root.match(alert.labels):
            labels = route.group_labels(alert.labels)
            key = route.group_key(labels)
            group = self._groups.get((route.path, key))
            if group is None:
                group = _Group(route, labels, key, now + route.config.group_wait)
                self._groups[(route.path, key)] = group
            group.alerts.add(alert.fingerprint)
            if not group.flushed and alert.starts_at + route.config.group_wait < now:
                group.next_flush = now

    def _forward(self, alerts: Sequence[Alert], now: float) -> None:
        """Queue alerts for ``alertmanager_configs`` receivers, Prometheus style."""
        interval = self._config.global_.evaluation_interval
        for batch in self._forwarder.batches(alerts, self._receivers_of, now, interval):
            body, firing = batch.alerts, batch.firing
            try:
                with transaction(self._db):
                    pending = self._outbox.pending(batch.key)
                    if pending is not None:
                        body = merge(pending.payload["alerts"], body)
                        firing += pending.firing
                    # Prometheus re-sends every resend delay: an older delivery is superseded.
                    self._delivery.enqueue(
                        batch.key, batch.target, {"alerts": body}, now, RESEND_DELAY, firing
                    )
            except sqlite3.Error as exc:  # the next evaluation sends the alerts again
                self._write_failed(exc)
                continue
            self._delivery.wake(batch.target)

    def _receivers_of(self, alert: Alert) -> list[ReceiverConfig]:
        if self._root is None:
            return []
        names = dict.fromkeys(r.config.receiver for r in self._root.match(alert.labels))
        return [self._receivers[n] for n in names if n in self._receivers]

    # -- flushing --------------------------------------------------------------------------

    def _valid_until(self, stored: _Stored) -> float:
        life = self._timeout if stored.lifetime is None else stored.lifetime
        return stored.last_seen + life

    def _effective(self, stored: _Stored) -> Alert:
        # An alert nobody sends any more resolves when its validity ends, as Alertmanager
        # resolves an alert at the endsAt Prometheus gave it (or after resolve_timeout).
        a = stored.alert
        until = self._valid_until(stored)
        if a.ends_at is None and until <= self._clock.time():
            return replace(a, ends_at=until)
        return a

    def _firing(self, now: float) -> list[Alert]:
        return [a for s in self._alerts.values() if not is_resolved(a := self._effective(s), now)]

    async def flush_due(self) -> None:
        """Flush every group whose timer is due; forget what nobody needs any more."""
        now = self._clock.time()
        for key, group in list(self._groups.items()):
            if group.next_flush <= now:
                self._flush(group, now)
            if not group.alerts:
                del self._groups[key]
        if now - self._last_gc >= GC_EVERY:
            self._gc(now)

    def _flush(self, group: _Group, now: float) -> None:
        group.next_flush = now + group.route.config.group_interval
        group.flushed = True
        alerts = sorted(
            (self._effective(self._alerts[fp]) for fp in group.alerts if fp in self._alerts),
            key=sort_key,
        )
        group.alerts &= set(self._alerts)
        firing_all = self._firing(now)
        unmuted = [
            a
            for a in alerts
            if not self._silences.silenced_by(a.labels, now)
            and not self._inhibitor.inhibited_by(a.labels, firing_all)
        ]
        if unmuted and not self._time_muted(group.route, now):
            targets = self._targets.get(group.route.config.receiver, [])
            if not self._stage.queue(group.view(), targets, unmuted, now):
                group.next_flush = min(group.next_flush, now + WRITE_RETRY)
        # Flushed resolved alerts leave the group (Alertmanager's DeleteIfNotModified).
        group.alerts -= {a.fingerprint for a in alerts if is_resolved(a, now)}

    def _time_muted(self, route: Route, now: float) -> bool:
        """Alertmanager's TimeMuteStage and TimeActiveStage for the group's route."""
        intervals, cfg = self._config.time_intervals, route.config
        if any(in_any(intervals.get(n, ()), now) for n in cfg.mute_time_intervals):
            return True
        active = cfg.active_time_intervals
        return bool(active) and not any(in_any(intervals.get(n, ()), now) for n in active)

    def _write_failed(self, exc: sqlite3.Error) -> None:
        self._metrics.state_write_errors.labels(what="notifications").inc()
        log.error("state.write_failed", what="notifications", error=str(exc))

    def _gc(self, now: float) -> None:
        self._last_gc = now
        try:
            self._nflog.gc(now)
            self._silences.gc(now)
        except sqlite3.Error as exc:  # expired rows stay until the next collection
            self._write_failed(exc)
        grouped = set().union(*(g.alerts for g in self._groups.values()))
        for fp, stored in list(self._alerts.items()):
            a = self._effective(stored)
            if a.ends_at is not None and a.ends_at + RESOLVED_RETENTION < now and fp not in grouped:
                del self._alerts[fp]
        self._forwarder.forget_before(now - RESOLVED_RETENTION)

    # -- lifecycle -------------------------------------------------------------------------

    async def deliver_due(self) -> None:
        """Deliver every due notification now, receivers concurrently."""
        await self._delivery.deliver_due()

    async def tick(self) -> None:
        """Flush what is due, then deliver what is due (tests drive time with this)."""
        await self.flush_due()
        await self.deliver_due()

    async def run(self) -> None:
        """Flush groups and run the delivery workers until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._flush_loop(), name="notify:flush")
            tg.create_task(self._delivery.run(), name="notify:deliver")

    async def flush_now(self) -> None:
        """Flush every group at once, ignoring group_wait, then deliver (``watcher once --send``)."""
        now = self._clock.time()
        for group in self._groups.values():
            group.next_flush = min(group.next_flush, now)
        await self.tick()

    async def drain(self, timeout: float) -> None:
        """Finish deliveries in flight, flush and deliver what is due, for at most ``timeout``
        seconds (on SIGTERM: a request the receiver may already have is not sent twice)."""
        await self.flush_due()
        await self._delivery.drain(timeout)

    def _next_flush(self) -> float | None:
        return min((g.next_flush for g in self._groups.values()), default=None)

    async def _flush_loop(self) -> None:
        crashes = 0
        while True:
            self._flush_wake.clear()
            try:
                await self.flush_due()
            except Exception:
                crashes += 1
                log.exception("notify.loop_failed", loop="flush")
                self._metrics.loop_crashes.labels(loop="flush").inc()
                await self._clock.sleep(min(60.0, 2.0 ** (crashes - 1)))
            due = self._next_flush()
            delay = MAX_IDLE if due is None else due - self._clock.time()
            await pause(self._clock, self._flush_wake, min(MAX_IDLE, max(0.0, delay)))

    # -- views -----------------------------------------------------------------------------

    def alerts(self) -> list[AlertStatus]:
        """Every active (not resolved) alert with its silences, inhibitions and receivers."""
        now = self._clock.time()
        firing = self._firing(now)
        out = []
        for stored in self._alerts.values():
            a = self._effective(stored)
            if is_resolved(a, now):
                continue
            silenced = tuple(self._silences.silenced_by(a.labels, now))
            inhibited = tuple(self._inhibitor.inhibited_by(a.labels, firing))
            receivers = tuple(r.name for r in self._receivers_of(a))
            out.append(
                AlertStatus(
                    a,
                    "suppressed" if silenced or inhibited else "active",
                    silenced,
                    inhibited,
                    receivers,
                    stored.updated_at,
                    self._valid_until(stored),
                )
            )
        return sorted(out, key=lambda s: sort_key(s.alert))

    def silences(self, filters: Sequence[Matcher] = ()) -> list[Silence]:
        """Every silence (matching ``filters``), active first."""
        return self._silences.query(self._clock.time(), filters)

    def get_silence(self, silence_id: str) -> Silence:
        """One silence; raise ``SilenceNotFoundError``."""
        return self._silences.get(silence_id)

    def put_silence(self, silence: Silence) -> str:
        """Create or update a silence; return its id; raise ``SilenceError``."""
        return self._silences.set(silence, self._clock.time())

    def expire_silence(self, silence_id: str) -> None:
        """Expire a silence now; raise ``SilenceError`` / ``SilenceNotFoundError``."""
        self._silences.expire(silence_id, self._clock.time())

    def now(self) -> float:
        """The dispatcher's clock."""
        return self._clock.time()

    def queued(self) -> list[Row]:
        """Undelivered notifications (for the status page)."""
        return self._outbox.all()
