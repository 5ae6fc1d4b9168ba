"""Silences with Alertmanager's semantics, persisted in SQLite.

Follows ``silence/silence.go``: a silence is pending before ``startsAt``, active until
``endsAt``, then expired; a start in the past becomes now; changing the matchers (or the
start of an active silence, or anything of an expired one) expires the old silence and creates
a new one with a new id; expiring an active silence sets its end to now. Expired silences
are kept for ``RETENTION`` so ``amtool silence query --expired`` still shows them.

Every silence is bounded, as Alertmanager's ``--silences.max-silences`` and
``--silences.max-silence-size-bytes`` bound them (there off by default, here always on):
``MAX_SILENCES`` stored silences, expired ones included, of ``MAX_SILENCE_BYTES`` each.
"""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import structlog

from watcher.errors import SilenceError, SilenceNotFoundError, SilenceStorageError
from watcher.matchers import Matcher
from watcher.state import transaction

log = structlog.get_logger()

RETENTION = 120 * 3600.0  # Alertmanager's --data.retention default
#: Silences stored at once, expired ones included (Alertmanager's ``--silences.max-silences``).
MAX_SILENCES = 1000
#: Matchers, author and comment of one silence, in bytes of their stored JSON.
MAX_SILENCE_BYTES = 16 * 1024
_STATE_ORDER = {"active": 0, "pending": 1, "expired": 2}


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence; ``id`` is empty for one not stored yet."""

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    id: str = ""
    updated_at: float = 0.0

    def state(self, now: float) -> str:
        """``pending``, ``active`` or ``expired`` at ``now``."""
        if now < self.starts_at:
            return "pending"
        if now < self.ends_at:
            return "active"
        return "expired"

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher matches ``labels``."""
        return all(m.matches(labels) for m in self.matchers)

    def matches_filter(self, filters: Sequence[Matcher]) -> bool:
        """Alertmanager's ``silenceMatchesFilterLabels``: filters apply to the matchers' values."""
        return matches_filter(filters, {m.name: m.value for m in self.matchers})


def matches_filter(filters: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Alertmanager's API ``matchFilterLabels``: ``=``/``=~`` filters need the label present."""
    for f in filters:
        if f.name not in labels and f.op in ("=", "=~"):
            return False
        if not f.matches(labels):
            return False
    return True


def validate(silence: Silence, now: float) -> None:
    """Raise ``SilenceError`` for a silence Alertmanager would refuse."""
    if not silence.matchers:
        msg = "at least one matcher required"
        raise SilenceError(msg)
    if all(m.matches({}) for m in silence.matchers):
        msg = "at least one matcher must not match the empty string"
        raise SilenceError(msg)
    if silence.starts_at >= silence.ends_at:
        msg = "start time must be before end time"
        raise SilenceError(msg)
    if silence.ends_at < now:
        msg = "end time can't be in the past"
        raise SilenceError(msg)


def _millis(t: float) -> float:
    return math.floor(t * 1000) / 1000


def _can_update(old: Silence, new: Silence, now: float) -> bool:
    if [str(m) for m in old.matchers] != [str(m) for m in new.matchers]:
        return False
    state = old.state(now)
    if state == "active":
        return abs(new.starts_at - old.starts_at) < 0.0015 and new.ends_at >= now
    if state == "pending":
        return new.starts_at >= now
    return False


def _check_size(silence: Silence) -> None:
    """Alertmanager's ``checkSizeLimits``, on the bytes this store writes."""
    size = len(_matchers_json(silence).encode()) + len(
        (silence.created_by + silence.comment).encode()
    )
    if size > MAX_SILENCE_BYTES:
        msg = f"silence exceeded maximum size: {size} bytes (limit: {MAX_SILENCE_BYTES} bytes)"
        raise SilenceError(msg)


def _matchers_json(silence: Silence) -> str:
    return json.dumps([[m.name, m.op, m.value] for m in silence.matchers])


class Silences:
    """The silence store: an in-memory view backed by SQLite."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._by_id: dict[str, Silence] = {}
        for row in db.execute(
            "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, "
            "comment FROM notify_silences"
        ).fetchall():
            try:
                matchers = tuple(Matcher.make(n, op, v) for n, op, v in json.loads(row[1]))
            except ValueError as exc:
                # Stored before regexes were RE2: dropping it beats refusing to start.
                log.warning("silence.dropped_invalid", silence=row[0], problem=str(exc))
                continue
            self._by_id[row[0]] = Silence(
                matchers,
                float(row[2]),
                float(row[3]),
                row[5],
                row[6],
                id=row[0],
                updated_at=float(row[4]),
            )

    def get(self, silence_id: str) -> Silence:
        """The silence with ``silence_id``; raise ``SilenceNotFoundError``."""
        try:
            return self._by_id[silence_id]
        except KeyError:
            msg = f"silence {silence_id} not found"
            raise SilenceNotFoundError(msg) from None

    def query(self, now: float, filters: Sequence[Matcher] = ()) -> list[Silence]:
        """Silences matching ``filters``: active by end, pending by start, expired latest first."""
        found = [s for s in self._by_id.values() if s.matches_filter(filters)]

        def order(s: Silence) -> tuple[int, float]:
            state = s.state(now)
            when = s.starts_at if state == "pending" else s.ends_at
            return _STATE_ORDER[state], -when if state == "expired" else when

        return sorted(found, key=order)

    def set(self, silence: Silence, now: float) -> str:
        """Create or update a silence as Alertmanager's ``Set`` does; return its id."""
        validate(silence, now)
        old = self._by_id.get(silence.id) if silence.id else None
        if silence.id and old is None:
            msg = f"silence {silence.id} not found"
            raise SilenceNotFoundError(msg)
        if old is not None and _can_update(old, silence, now):
            _check_size(silence)
            self._commit(replace(silence, updated_at=now))
            return silence.id
        if len(self._by_id) + 1 > MAX_SILENCES:
            msg = f"exceeded maximum number of silences: {len(self._by_id)} (limit: {MAX_SILENCES})"
            raise SilenceError(msg)
        _check_size(silence)
        ended = [_ended(old, now)] if old is not None and old.state(now) != "expired" else []
        # Times are kept to the millisecond the API shows, so a client echoing startsAt back
        # (amtool silence update) updates in place.
        new = replace(
            silence,
            id=str(uuid.uuid4()),
            starts_at=_millis(max(silence.starts_at, now)),
            ends_at=_millis(silence.ends_at),
            updated_at=now,
        )
        self._commit(*ended, new)
        return new.id

    def expire(self, silence_id: str, now: float) -> None:
        """End a silence now; raise ``SilenceNotFoundError`` or ``SilenceError`` if expired."""
        old = self.get(silence_id)
        state = old.state(now)
        if state == "expired":
            msg = f"silence {silence_id} already expired"
            raise SilenceError(msg)
        self._commit(_ended(old, now))

    def silenced_by(self, labels: Mapping[str, str], now: float) -> list[str]:
        """Ids of the active silences muting ``labels``."""
        return sorted(
            s.id for s in self._by_id.values() if s.state(now) == "active" and s.matches(labels)
        )

    def gc(self, now: float) -> None:
        """Forget silences expired longer than the retention."""
        old = [s.id for s in self._by_id.values() if s.ends_at + RETENTION < now]
        for sid in old:
            try:
                self._db.execute("DELETE FROM notify_silences WHERE id = ?", (sid,))
            except sqlite3.Error:
                continue  # kept until a later sweep can delete it
            del self._by_id[sid]

    def _commit(self, *silences: Silence) -> None:
        """Write ``silences`` in one transaction, then keep them; nothing changes on failure."""
        try:
            with transaction(self._db):
                for s in silences:
                    self._db.execute(
                        "INSERT OR REPLACE INTO notify_silences (id, matchers, starts_at, "
                        "ends_at, updated_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            s.id,
                            _matchers_json(s),
                            s.starts_at,
                            s.ends_at,
                            s.updated_at,
                            s.created_by,
                            s.comment,
                        ),
                    )
        except sqlite3.Error as exc:
            msg = f"silence not stored: {exc}"
            raise SilenceStorageError(msg) from None
        for s in silences:
            self._by_id[s.id] = s


def _ended(old: Silence, now: float) -> Silence:
    """``old`` expired at ``now`` (a pending one also starts now, as Alertmanager does)."""
    start = now if old.state(now) == "pending" else old.starts_at
    return replace(old, starts_at=start, ends_at=now, updated_at=now)
