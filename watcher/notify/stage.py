"""The notify stage of a flush: per integration, ask the notification log whether this state
needs sending, then write the log entry and the outbox row in one transaction.

As Alertmanager's ``DedupStage`` then ``RetryStage`` hand-off: a state already sent (and not
due for ``repeat_interval``) is skipped; one that cannot be written (a full disk) writes
neither the entry nor the row, so the group flushes again ``WRITE_RETRY`` later and the page is
late, never lost and never doubled.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from watcher.alerts import Alert
from watcher.config import RouteConfig
from watcher.notify.base import Target
from watcher.notify.data import NotificationData, is_resolved
from watcher.notify.nflog import NotificationLog, needs_update
from watcher.notify.outbox import transaction
from watcher.notify.pipeline import Delivery, dispatch_timeout

log = structlog.get_logger(__name__)

#: How soon a group whose notification could not be written (a full disk) flushes again.
WRITE_RETRY = 5.0


@dataclass(frozen=True, slots=True)
class GroupView:
    """An aggregation group as the stage sees it: its route's timers, labels and key."""

    route: RouteConfig
    labels: Mapping[str, str]
    key: str


class NotifyStage:
    """Queues a flushed group's notification for each integration that needs it."""

    def __init__(
        self,
        db: sqlite3.Connection,
        nflog: NotificationLog,
        delivery: Delivery,
        on_write_error: Callable[[sqlite3.Error], None],
    ) -> None:
        self._db = db
        self._nflog = nflog
        self._delivery = delivery
        self._on_write_error = on_write_error
        self.external_url = ""

    def queue(
        self, group: GroupView, targets: Sequence[Target], alerts: list[Alert], now: float
    ) -> bool:
        """Queue what each target needs; False when a write failed (retry the group soon)."""
        written = True
        firing = {a.fingerprint for a in alerts if not is_resolved(a, now)}
        resolved = {a.fingerprint for a in alerts} - firing
        for target in targets:
            notifier = target.notifier
            key = f"{group.key}|{target.id}"
            entry = self._nflog.get(key, now)
            if not needs_update(
                entry,
                firing,
                resolved,
                send_resolved=notifier.send_resolved,
                repeat_interval=group.route.repeat_interval,
                now=now,
            ):
                continue
            to_send = (
                alerts if notifier.send_resolved else [a for a in alerts if a.fingerprint in firing]
            )
            try:
                with transaction(self._db):
                    self._nflog.log(key, firing, resolved, now)
                    if to_send:
                        data = NotificationData(
                            group.route.receiver,
                            group.key,
                            dict(group.labels),
                            tuple(to_send),
                            self.external_url,
                            now,
                        )
                        self._delivery.enqueue(
                            key,
                            target.key,
                            notifier.render(data),
                            now,
                            dispatch_timeout(group.route.group_interval),
                            sum(1 for a in to_send if a.fingerprint in firing),
                        )
            except sqlite3.Error as exc:
                # Neither the log entry nor the message was written (one transaction).
                self._on_write_error(exc)
                written = False
                continue
            if to_send:
                log.info(
                    "notify.queued",
                    receiver=group.route.receiver,
                    integration=notifier.name,
                    group=group.key,
                    firing=len(firing),
                    resolved=len(resolved),
                )
                self._delivery.wake(target.key)
        return written
