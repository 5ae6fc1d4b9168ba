"""The outbox: every notification is a row in SQLite until it is delivered or superseded.

A row names its target (receiver, integration, index) rather than its URL, so no credential
is stored; the URL is looked up in the current config when the row is delivered. A newer row
with the same key (the same group and integration) replaces an undelivered older one. The
outbox is bounded: past its capacity the oldest rows holding only resolved alerts are dropped,
a row with a firing alert never is. The table is created by ``watcher.state``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from watcher.state import transaction

TargetKey = tuple[str, str, int]  # receiver, integration, index

__all__ = ["Outbox", "Row", "TargetKey", "transaction"]


@dataclass(frozen=True, slots=True)
class Row:
    """A queued notification."""

    id: int
    key: str
    receiver: str
    integration: str
    index: int
    payload: dict[str, Any]
    created: float
    attempts: int
    next_attempt: float
    timeout: float  # seconds one delivery of it may take, retries included
    firing: int  # firing alerts in it; 0 means only resolved ones

    @property
    def target(self) -> TargetKey:
        """Where it goes."""
        return (self.receiver, self.integration, self.index)


class Outbox:
    """Queued notifications.

    A write that fails after a delivery (a full disk) must not send the message again: a row
    whose delete failed is remembered as delivered and hidden until a later delete succeeds,
    and a failed backoff update is kept in memory, so the row still waits it out. Such
    failures go to ``on_error`` (counted and logged by the dispatcher), never up the stack.
    """

    def __init__(
        self, db: sqlite3.Connection, on_error: Callable[[sqlite3.Error], None] | None = None
    ) -> None:
        self._db = db
        self._on_error = on_error or (lambda _exc: None)
        #: delivered rows whose DELETE failed; hidden, deleted again on the next write
        self._gone: set[int] = set()
        #: next attempts whose UPDATE failed, by row id
        self._backoff: dict[int, tuple[int, float]] = {}

    def put(
        self,
        key: str,
        *,
        receiver: str,
        integration: str,
        index: int,
        payload: dict[str, Any],
        now: float,
        timeout: float,
        firing: int,
    ) -> int:
        """Queue ``payload``, superseding any undelivered row with the same key.

        The new row inherits the old one's backoff, so a superseding message still honours
        the ``Retry-After`` or backoff its target asked for.
        """
        old = self._db.execute(
            "SELECT MAX(attempts), MAX(next_attempt) FROM notify_outbox WHERE key = ?", (key,)
        ).fetchone()
        attempts = int(old[0] or 0)
        next_attempt = max(now, float(old[1] or now))
        self._db.execute("DELETE FROM notify_outbox WHERE key = ?", (key,))
        cur = self._db.execute(
            "INSERT INTO notify_outbox (key, receiver, integration, idx, payload, created, "
            "attempts, next_attempt, timeout, firing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                receiver,
                integration,
                index,
                json.dumps(payload),
                now,
                attempts,
                next_attempt,
                timeout,
                firing,
            ),
        )
        return int(cur.lastrowid or 0)

    def evict_over(self, capacity: int) -> tuple[list[Row], int]:
        """Drop the oldest resolved-only rows past ``capacity``; return them and the excess.

        The excess is how many rows are still over capacity because every other row holds a
        firing alert (those are kept: a page is never dropped to make room).
        """
        excess = len(self) - capacity
        if excess <= 0:
            return [], 0
        dropped = self._select("WHERE firing = 0 ORDER BY id LIMIT ?", (excess,))
        self._db.executemany("DELETE FROM notify_outbox WHERE id = ?", [(r.id,) for r in dropped])
        return dropped, excess - len(dropped)

    def pending(self, key: str) -> Row | None:
        """The undelivered row for ``key``, if any."""
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def due(self, now: float) -> list[Row]:
        """Rows whose next attempt is due, oldest first."""
        return [r for r in self._select("ORDER BY id", ()) if r.next_attempt <= now]

    def first_due(self, target: TargetKey, now: float) -> Row | None:
        """The oldest row for ``target`` whose next attempt is due."""
        rows = self._for(target)
        return next((r for r in rows if r.next_attempt <= now), None)

    def next_due_for(self, target: TargetKey) -> float | None:
        """When the earliest row for ``target`` is due."""
        return min((r.next_attempt for r in self._for(target)), default=None)

    def _for(self, target: TargetKey) -> list[Row]:
        return self._select(
            "WHERE receiver = ? AND integration = ? AND idx = ? ORDER BY id", target
        )

    def targets(self) -> set[TargetKey]:
        """Every target some row is queued for."""
        rows = self._db.execute("SELECT DISTINCT receiver, integration, idx FROM notify_outbox")
        return {(str(r[0]), str(r[1]), int(r[2])) for r in rows}

    def drop_target(self, target: TargetKey) -> int:
        """Remove every row for ``target`` (no longer configured); return how many."""
        cur = self._db.execute(
            "DELETE FROM notify_outbox WHERE receiver = ? AND integration = ? AND idx = ?",
            target,
        )
        return int(cur.rowcount)

    def all(self) -> list[Row]:
        """Every queued row, oldest first."""
        return self._select("ORDER BY id", ())

    def delivered(self, row_id: int) -> None:
        """Remove a delivered row (hidden at once, even when the disk refuses the delete)."""
        self._gone.add(row_id)
        self._backoff.pop(row_id, None)
        self._sweep(report=True)

    def _sweep(self, *, report: bool) -> None:
        """Delete the delivered rows whose delete failed before; keep them hidden meanwhile.

        Only a delivery reports a failure; the retries on every read stay quiet, so a full
        disk is one error per delivery, not one per look at the queue.
        """
        try:
            self._db.executemany(
                "DELETE FROM notify_outbox WHERE id = ?", [(i,) for i in sorted(self._gone)]
            )
        except sqlite3.Error as exc:
            if report:
                self._on_error(exc)
            return
        self._gone.clear()

    def failed(self, row_id: int, error: str, next_attempt: float) -> None:
        """Keep a row for another try at ``next_attempt``."""
        attempts = self._backoff.get(row_id, (0, 0.0))[0] + 1
        try:
            self._db.execute(
                "UPDATE notify_outbox SET attempts = attempts + ?, last_error = ?,"
                " next_attempt = ? WHERE id = ?",
                (attempts, error[:1000], next_attempt, row_id),
            )
        except sqlite3.Error as exc:
            self._backoff[row_id] = (attempts, next_attempt)
            self._on_error(exc)
            return
        self._backoff.pop(row_id, None)

    def __len__(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM notify_outbox").fetchone()
        return int(row[0]) - len(self._gone)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Row]:
        if self._gone:
            self._sweep(report=False)
        columns = (
            "id, key, receiver, integration, idx, payload, created, attempts, next_attempt, "
            "timeout, firing"
        )
        sql = f"SELECT {columns} FROM notify_outbox {where}"  # noqa: S608 - `where` is ours
        rows = [
            Row(
                int(r[0]),
                r[1],
                r[2],
                r[3],
                int(r[4]),
                json.loads(r[5]),
                float(r[6]),
                int(r[7]),
                float(r[8]),
                float(r[9]),
                int(r[10]),
            )
            for r in self._db.execute(sql, args).fetchall()
        ]
        if not self._gone and not self._backoff:
            return rows
        return [self._in_memory(r) for r in rows if r.id not in self._gone]

    def _in_memory(self, row: Row) -> Row:
        if (known := self._backoff.get(row.id)) is None:
            return row
        return replace(row, attempts=row.attempts + known[0], next_attempt=known[1])
