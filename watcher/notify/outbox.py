"""The outbox: every notification is a row in SQLite until it is delivered or superseded.

A row names its target (receiver, integration, index) rather than its URL, so no credential
is stored; the URL is looked up in the current config when the row is delivered. A newer row
with the same key (the same group and integration) replaces an undelivered older one. The
table is created by ``watcher.state``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from watcher.state import transaction

__all__ = ["Outbox", "Row", "transaction"]


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


class Outbox:
    """Queued notifications."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def put(
        self,
        key: str,
        *,
        receiver: str,
        integration: str,
        index: int,
        payload: dict[str, Any],
        now: float,
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
            "attempts, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, receiver, integration, index, json.dumps(payload), now, attempts, next_attempt),
        )
        return int(cur.lastrowid or 0)

    def pending(self, key: str) -> Row | None:
        """The undelivered row for ``key``, if any."""
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def due(self, now: float) -> list[Row]:
        """Rows whose next attempt is due, oldest first."""
        return self._select("WHERE next_attempt <= ? ORDER BY id", (now,))

    def all(self) -> list[Row]:
        """Every queued row, oldest first."""
        return self._select("ORDER BY id", ())

    def next_due(self) -> float | None:
        """When the earliest row is due."""
        row = self._db.execute("SELECT MIN(next_attempt) FROM notify_outbox").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def delivered(self, row_id: int) -> None:
        """Remove a delivered row."""
        self._db.execute("DELETE FROM notify_outbox WHERE id = ?", (row_id,))

    def failed(self, row_id: int, error: str, next_attempt: float) -> None:
        """Keep a row for another try at ``next_attempt``."""
        self._db.execute(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ? "
            "WHERE id = ?",
            (error, next_attempt, row_id),
        )

    def __len__(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM notify_outbox").fetchone()
        return int(row[0])

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Row]:
        columns = "id, key, receiver, integration, idx, payload, created, attempts, next_attempt"
        sql = f"SELECT {columns} FROM notify_outbox {where}"  # noqa: S608 - `where` is ours
        return [
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
            )
            for r in self._db.execute(sql, args).fetchall()
        ]
