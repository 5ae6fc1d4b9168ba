"""The notification log: what each group last notified per integration, in SQLite.

Alertmanager's ``nflog`` with its ``DedupStage.needsUpdate`` rule
(https://github.com/prometheus/alertmanager/blob/main/notify/notify.go): a group notifies when
its firing set gained an alert, when everything it announced has resolved, when the resolved
set changed and the integration sends resolved alerts, or when ``repeat_interval`` passed.
Entries are written when a notification is queued (in the same transaction as the outbox row),
so a restart or reload never queues the same group state twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Set
from dataclasses import dataclass

RETENTION = 120 * 3600.0  # Alertmanager's --data.retention default


@dataclass(frozen=True, slots=True)
class Entry:
    """The last notification of one group to one integration."""

    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: float


def needs_update(
    entry: Entry | None,
    firing: Set[str],
    resolved: Set[str],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Whether this group state must be notified (Alertmanager's ``needsUpdate``)."""
    if entry is None:
        return bool(firing)
    if not set(firing) <= entry.firing:
        return True
    if not firing:
        # Everything resolved: notify (even without send_resolved, to clear the log) unless
        # the last notification already had nothing firing.
        return bool(entry.firing)
    if send_resolved and not set(resolved) <= entry.resolved:
        return True
    return entry.timestamp <= now - repeat_interval


class NotificationLog:
    """Entries keyed by group and integration."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def get(self, key: str, now: float) -> Entry | None:
        """The live entry for ``key``."""
        row = self._db.execute(
            "SELECT firing, resolved, timestamp FROM notify_nflog WHERE key = ? AND expires > ?",
            (key, now),
        ).fetchone()
        if row is None:
            return None
        return Entry(frozenset(json.loads(row[0])), frozenset(json.loads(row[1])), float(row[2]))

    def log(self, key: str, firing: Set[str], resolved: Set[str], now: float) -> None:
        """Record a notification (caller commits)."""
        self._db.execute(
            "INSERT OR REPLACE INTO notify_nflog (key, firing, resolved, timestamp, expires) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, json.dumps(sorted(firing)), json.dumps(sorted(resolved)), now, now + RETENTION),
        )

    def gc(self, now: float) -> None:
        """Forget expired entries."""
        self._db.execute("DELETE FROM notify_nflog WHERE expires <= ?", (now,))
