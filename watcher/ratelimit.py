"""Request spacing per API key: upstream limits are per key, so every request on one key shares
one limiter (``LimiterRegistry``), whatever each source's ``interval`` says.

A ``Limiter`` hands out slots at least ``spacing`` seconds apart (measured from when each
request is *sent*), and ``penalize`` pushes the next slot out after upstream says we were
too fast.

Slots and strikes are kept in a ``SlotBook``. The daemon uses a SQLite file that every watcher
process on the machine shares (``WATCHER_RATE_LIMIT_FILE``, default
``$TMPDIR/watcher-<uid>/rate-limits.db``), so a restart, a crash loop or a ``watcher once``
beside a running daemon never sends a request sooner than the previous process allowed: CoinW
escalates repeated violations to an 8 h blacklist. Times in the book are wall-clock seconds,
the only clock processes share.

Replicas of one deployment (``ha`` with ``share_rate_limit``) cannot share a book, so they
split each key's budget statically (``Share``): replica ``i`` of ``N`` sends on a wall-clock
grid ``N x spacing`` wide, offset by ``i x spacing``, so the replicas' requests interleave and
together stay at one per ``spacing``, whichever of them are up.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Protocol

import structlog

from watcher.clock import Clock
from watcher.state import transaction

log = structlog.get_logger(__name__)

#: Pauses after consecutive rate-limit answers on one key: CoinW escalates its own penalties
#: (half quota, 30 s bans, an 8 h blacklist after 10 bans), so we back off harder each time.
BACKOFF_STEPS = (10.0, 30.0, 60.0, 120.0, 300.0)

#: A replica that wakes this share of the spacing after its slot skips the slot (``Share``).
LATE_FRACTION = 0.05
#: Slots skipped in a row at most before sending anyway.
LATE_SKIPS = 3

#: How long a limiter with no spacing trusts its last read of the book. Such a key only ever
#: holds penalties (a 429 pauses it): another process's penalty is seen at most this late, and
#: a request no longer costs two SQLite reads.
PENALTY_READ_EVERY = 0.05

#: Environment variable naming the shared slot book (tests point it at a temporary file).
BOOK_ENV = "WATCHER_RATE_LIMIT_FILE"


def default_book_path() -> str:
    """The machine-wide slot book: ``$WATCHER_RATE_LIMIT_FILE`` or one per user in $TMPDIR."""
    return os.environ.get(BOOK_ENV) or str(
        Path(tempfile.gettempdir()) / f"watcher-{os.getuid()}" / "rate-limits.db"
    )


class SlotBook(Protocol):
    """Where the next free slot and the strike count of every key are kept."""

    def reserve(self, key: str, now: float, spacing: float) -> float:
        """Take the next slot at or after ``now``; the one after it is ``spacing`` later."""
        ...

    def push(self, key: str, until: float) -> None:
        """Grant no slot before ``until``."""
        ...

    def next_free(self, key: str) -> float:
        """When the next slot is free."""
        ...

    def strike(self, key: str) -> int:
        """Count a rate-limit answer; return how many came before it in a row."""
        ...

    def clear_strikes(self, key: str) -> None:
        """A request went through: the next refusal starts the steps again."""
        ...


class MemoryBook:
    """A slot book for one process (tests, and the fallback when no file can be used)."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._strikes: dict[str, int] = {}

    def reserve(self, key: str, now: float, spacing: float) -> float:
        """Take the next slot at or after ``now``."""
        slot = max(now, self._next.get(key, float("-inf")))
        self._next[key] = slot + spacing
        return slot

    def push(self, key: str, until: float) -> None:
        """Grant no slot before ``until``."""
        self._next[key] = max(self._next.get(key, float("-inf")), until)

    def next_free(self, key: str) -> float:
        """When the next slot is free."""
        return self._next.get(key, float("-inf"))

    def strike(self, key: str) -> int:
        """Count a rate-limit answer."""
        before = self._strikes.get(key, 0)
        self._strikes[key] = before + 1
        return before

    def clear_strikes(self, key: str) -> None:
        """Start the steps again."""
        self._strikes.pop(key, None)


class FileBook:
    """A slot book in a SQLite file shared by every watcher process on the machine."""

    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=2000")
        self._db.execute("PRAGMA journal_mode=WAL")
        # A cache of the next free slot: losing the last write to an OS crash costs one early
        # request at worst, so commits need not wait for the disk.
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS slots (key TEXT PRIMARY KEY,"
            " next_free REAL NOT NULL, strikes INTEGER NOT NULL DEFAULT 0)"
        )

    def _get(self, key: str) -> tuple[float, int]:
        row = self._db.execute(
            "SELECT next_free, strikes FROM slots WHERE key = ?", (key,)
        ).fetchone()
        return (float("-inf"), 0) if row is None else (float(row[0]), int(row[1]))

    def _set(self, key: str, next_free: float, strikes: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO slots (key, next_free, strikes) VALUES (?, ?, ?)",
            (key, next_free if next_free != float("-inf") else 0.0, strikes),
        )

    def reserve(self, key: str, now: float, spacing: float) -> float:
        """Take the next slot at or after ``now`` (one transaction, so processes queue up)."""
        with transaction(self._db):
            free, strikes = self._get(key)
            slot = max(now, free)
            self._set(key, slot + spacing, strikes)
        return slot

    def push(self, key: str, until: float) -> None:
        """Grant no slot before ``until``."""
        with transaction(self._db):
            free, strikes = self._get(key)
            self._set(key, max(free, until), strikes)

    def next_free(self, key: str) -> float:
        """When the next slot is free."""
        return self._get(key)[0]

    def strike(self, key: str) -> int:
        """Count a rate-limit answer."""
        with transaction(self._db):
            free, strikes = self._get(key)
            self._set(key, free, strikes + 1)
        return strikes

    def clear_strikes(self, key: str) -> None:
        """Start the steps again."""
        with transaction(self._db):
            free, strikes = self._get(key)
            if strikes:
                self._set(key, free, 0)

    def close(self) -> None:
        """Close the file."""
        self._db.close()


class Share:
    """Replica ``index`` of ``replicas`` takes every ``replicas``-th slot of a key's grid."""

    __slots__ = ("index", "replicas")

    def __init__(self, replicas: int, index: int) -> None:
        if not 0 <= index < replicas:
            msg = f"replica index {index} is not in 0..{replicas - 1}"
            raise ValueError(msg)
        self.replicas = replicas
        self.index = index

    def period(self, spacing: float) -> float:
        """How far apart this replica's own requests on one key are."""
        return spacing * self.replicas

    def align(self, t: float, spacing: float) -> float:
        """This replica's first slot at or after wall-clock time ``t``."""
        period, phase = spacing * self.replicas, spacing * self.index
        # The tolerance keeps float error in ``slot + period`` from skipping a whole period.
        return phase + math.ceil((t - phase) / period - 1e-6) * period


class Limiter:
    """Grants one request slot per ``spacing`` seconds, first come first served."""

    def __init__(
        self, key: str, spacing: float, clock: Clock, book: SlotBook, share: Share | None = None
    ) -> None:
        self.spacing = spacing
        self._key = key
        self._clock = clock
        self._book = book
        self._share = share
        self._lock = asyncio.Lock()
        self._free: tuple[float, float] | None = None  # (monotonic read at, next free)

    def _next_free(self) -> float:
        if self.spacing > 0:
            return self._book.next_free(self._key)
        read_at = self._clock.monotonic()
        if self._free is None or read_at - self._free[0] >= PENALTY_READ_EVERY:
            self._free = (read_at, self._book.next_free(self._key))
        return self._free[1]

    async def acquire(self) -> None:
        """Wait for the next free slot and take it."""
        # Nothing to book and nobody waiting ahead: a free key costs no lock round trip.
        if (
            self.spacing <= 0
            and not self._lock.locked()
            and self._next_free() <= self._clock.time()
        ):
            return
        async with self._lock:
            if self._share is not None and self.spacing > 0:
                await self._acquire_share(self._share)
                return
            now = self._clock.time()
            if self.spacing <= 0:  # no spacing, only penalties: nothing to write
                slot = max(now, self._next_free())
            else:
                slot = self._book.reserve(self._key, now, self.spacing)
            if slot > now:
                await self._clock.sleep(slot - now)
            woke = self._clock.time()
            if self.spacing > 0 and woke > slot:
                # Woken late (a busy loop): the request leaves at ``woke``, so the next one
                # must wait a whole spacing from then, not from the slot it missed.
                self._book.push(self._key, woke + self.spacing)

    async def _acquire_share(self, share: Share) -> None:
        """Take this replica's next grid slot; one we woke up too late for is skipped.

        The other replicas send at their own offsets, so a request sent late would come
        closer to theirs than the spacing allows: the next own slot is safe, a late one is not.
        After ``LATE_SKIPS`` late wake-ups in a row the request goes anyway.
        """
        late = self.spacing * LATE_FRACTION
        for _ in range(LATE_SKIPS):
            now = self._clock.time()
            # Reserve from our next grid slot, then align again: a penalty (``push``) may have
            # left the book's next free time between two of our slots.
            slot = self._book.reserve(
                self._key, share.align(now, self.spacing), share.period(self.spacing)
            )
            slot = share.align(slot, self.spacing)
            if slot > now:
                await self._clock.sleep(slot - now)
            if self._clock.time() <= slot + late:
                return
        # Always late (a starved process): send rather than stop polling; a refusal from
        # upstream is then paced by ``rate_limited``.

    def penalize(self, seconds: float) -> None:
        """Grant no slot for ``seconds`` from now (after a rate-limit answer)."""
        self._book.push(self._key, self._clock.time() + seconds)
        self._free = None

    def rate_limited(self, retry_after: float | None = None) -> float:
        """Upstream refused us for speed: pause the key (longer on each repeat); return the pause."""
        strikes = self._book.strike(self._key)
        wait = BACKOFF_STEPS[min(strikes, len(BACKOFF_STEPS) - 1)]
        if retry_after is not None:
            wait = max(wait, retry_after)
        self.penalize(wait)
        return wait

    def succeeded(self) -> None:
        """A request on the key went through: the next rate-limit answer starts the steps again."""
        self._book.clear_strikes(self._key)

    @property
    def next_slot_in(self) -> float:
        """Seconds until the next slot is free (0 when free now)."""
        free = self._next_free()
        if self._share is not None and self.spacing > 0:
            free = self._share.align(max(free, self._clock.time()), self.spacing)
        return max(0.0, free - self._clock.time())


class LimiterRegistry:
    """One ``Limiter`` per (upstream, API key, endpoint); keys are hashed, so neither this
    registry nor the shared book keeps a secret.

    With ``share`` (``ha.share_rate_limit``) every limiter keeps to this replica's share of the
    key's grid, under a book entry of its own: two replicas on one machine (one shared book)
    then interleave instead of queueing behind each other's next free slot.
    """

    def __init__(
        self, clock: Clock, book: SlotBook | None = None, *, share: Share | None = None
    ) -> None:
        self._clock = clock
        self._book: SlotBook = book if book is not None else MemoryBook()
        self._share = share
        self._limiters: dict[str, Limiter] = {}

    def get(self, api_key: str, endpoint: str, spacing: float, *, upstream: str = "") -> Limiter:
        """The limiter shared by every request on ``endpoint`` of ``upstream`` with ``api_key``."""
        name = f"{upstream}\0{api_key}\0{endpoint}"
        if self._share is not None:
            name += f"\0replica {self._share.index} of {self._share.replicas}"
        key = hashlib.sha256(name.encode()).hexdigest()
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = Limiter(key, spacing, self._clock, self._book, self._share)
            self._limiters[key] = limiter
        limiter.spacing = max(limiter.spacing, spacing)
        return limiter


def shared_book() -> SlotBook:
    """The machine-wide book at ``default_book_path()``; one in memory when no file can be used."""
    path = default_book_path()
    try:
        return FileBook(path)
    except (OSError, Exception) as exc:  # sqlite3.Error or a read-only $TMPDIR
        log.warning(
            "ratelimit.book_unavailable",
            path=path,
            error=str(exc),
            effect="request spacing is kept in memory, not shared with other watcher processes",
        )
        return MemoryBook()
