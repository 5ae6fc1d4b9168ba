"""The samples in SQLite (tables ``sample_series`` and ``samples``), so a restart keeps history.

The event loop only appends rows to a bounded in-memory queue; a writer thread with its own
connection to ``storage.path`` commits them in batches, so a poll never waits on the disk. A
failed write (full disk, I/O error) is counted in ``watcher_state_write_errors_total
{what="samples"}``, logged and retried with the same rows; only when the queue is full for
that long are the oldest rows given up, counted in ``watcher_state_samples_unsaved_total``.
Reads (a query reaching before what memory holds, the restore at start) use the daemon's
connection on the event loop: WAL lets them run beside the writer.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence

import structlog

from watcher.history.memory import SampleHistory
from watcher.history.points import NO_FLOOR, Points
from watcher.history.retention import Retention
from watcher.metrics import WatcherMetrics
from watcher.state import transaction

log = structlog.get_logger(__name__)

#: Rows waiting for the writer at most (about 40 MB); past it the oldest are given up.
MAX_PENDING = 1_000_000
#: Rows per write transaction.
BATCH = 20_000
#: Seconds between the writer's rounds (and between retries of a failed write).
FLUSH_INTERVAL = 1.0

_Row = tuple[int, int, float | bytes]


def encode(value: float) -> float | bytes:
    """A value as stored: SQLite turns NaN into NULL, so a NaN keeps its 8 bytes (stale bits)."""
    return struct.pack("<d", value) if math.isnan(value) else value


def decode(value: float | bytes | int) -> float:
    """The stored value back, bit for bit."""
    if isinstance(value, bytes):
        return float(struct.unpack("<d", value)[0])
    return float(value)


class SampleDisk:
    """The samples table: appended from the event loop, written by a thread of its own."""

    def __init__(
        self,
        reader: sqlite3.Connection,
        connect: Callable[[], sqlite3.Connection],
        metrics: WatcherMetrics,
        *,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._reader = reader
        self._connect = connect
        self._metrics = metrics
        self.max_pending = max_pending
        self._ids: dict[tuple[str, str], int] = {}
        for sid, name, labels in reader.execute("SELECT id, name, labels FROM sample_series"):
            self._ids[(str(name), str(labels))] = int(sid)
        self._keys = {sid: key for key, sid in self._ids.items()}
        self._next_id = max(self._ids.values(), default=0) + 1
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._new_series: list[tuple[int, str, str]] = []
        self._pending: deque[_Row] = deque()
        self._prune: list[tuple[int, int]] = []
        self._forget: list[int] = []
        self._failing = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self._writer: sqlite3.Connection | None = None

    # -- the event loop's side ------------------------------------------------------------

    def series_id(self, name: str, labels: Mapping[str, str]) -> int:
        """The id of a series, made (and queued for writing) the first time it is seen."""
        key = (name, json.dumps(dict(sorted(labels.items()))))
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = self._next_id
            self._keys[sid] = key
            self._next_id += 1
            with self._lock:
                self._new_series.append((sid, name, key[1]))
        return sid

    def append(self, sid: int, ms: int, value: float) -> None:
        """Queue one sample; past ``max_pending`` queued the oldest is given up (counted)."""
        with self._lock:
            self._pending.append((sid, ms, encode(value)))
            if len(self._pending) > self.max_pending:
                self._pending.popleft()
                self._metrics.samples_unsaved.inc()

    def prune(self, cutoffs: Sequence[tuple[int, int]], forget: Sequence[int] = ()) -> None:
        """Queue deleting each (series id, samples before ms) and the series ``forget``."""
        with self._lock:
            self._prune.extend(cutoffs)
            self._forget.extend(forget)
        for sid in forget:
            key = self._keys.pop(sid, None)
            if key is not None:
                del self._ids[key]

    @property
    def pending(self) -> int:
        """Rows not yet written."""
        with self._lock:
            return len(self._pending)

    def read(self, sid: int, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """The stored samples of series ``sid`` with start_ms <= t <= end_ms, oldest first."""
        if end_ms < start_ms:
            return []
        rows = self._reader.execute(
            "SELECT t, v FROM samples WHERE series = ? AND t BETWEEN ? AND ? ORDER BY t",
            (sid, start_ms, end_ms),
        ).fetchall()
        return [(int(t), decode(v)) for t, v in rows]

    def restore(self, now_ms: int, retention: Retention, load_ms: int) -> Iterator[Points]:
        """Every stored series with the samples of its last ``load_ms`` in memory.

        Older samples (inside the retention) stay on disk: the series' ``floor`` says so.
        """
        for (name, labels_json), sid in list(self._ids.items()):
            keep = retention.for_metric(name)
            try:
                labels = {str(k): str(v) for k, v in json.loads(labels_json).items()}
            except (ValueError, AttributeError):
                continue
            p = Points(name, labels, keep, sid)
            since = now_ms - min(load_ms, keep)
            for t, v in self.read(sid, since, now_ms):
                p.ts.append(t)
                p.vs.append(v)
            p.floor = since if keep > load_ms else NO_FLOOR
            yield p

    # -- the writer's side ----------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="sample-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued (one last attempt) and stop the writer."""
        with self._lock:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        else:
            self.write_pending()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._stop:
                    self._wake.wait(FLUSH_INTERVAL)
                stop = self._stop
            self.write_pending()
            if stop:
                return

    def write_pending(self) -> bool:
        """Write queued rows in batches until none are left; False when a write failed."""
        while True:
            with self._lock:
                series, self._new_series = self._new_series, []
                rows = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                prune, self._prune = self._prune, []
                forget, self._forget = self._forget, []
            if not (series or rows or prune or forget):
                return True
            try:
                self._write(series, rows, prune, forget)
            except sqlite3.Error as exc:
                with self._lock:  # put everything back, in order, for the next round
                    self._new_series[:0] = series
                    self._pending.extendleft(reversed(rows))
                    self._prune[:0] = prune
                    self._forget[:0] = forget
                self._metrics.state_write_errors.labels(what="samples").inc()
                if not self._failing:
                    log.error("state.write_failed", what="samples", error=str(exc))
                self._failing = True
                return False
            if self._failing:
                log.info("state.write_recovered", what="samples")
                self._failing = False

    def _write(
        self,
        series: list[tuple[int, str, str]],
        rows: list[_Row],
        prune: list[tuple[int, int]],
        forget: list[int],
    ) -> None:
        if self._writer is None:
            self._writer = self._connect()
        db = self._writer
        with transaction(db):
            # a forgotten series goes first: the same labels may come back under a new id
            gone = [(sid,) for sid in forget]
            db.executemany("DELETE FROM samples WHERE series = ?", gone)
            db.executemany("DELETE FROM sample_series WHERE id = ?", gone)
            db.executemany(
                "INSERT OR IGNORE INTO sample_series (id, name, labels) VALUES (?, ?, ?)", series
            )
            db.executemany("INSERT OR IGNORE INTO samples (series, t, v) VALUES (?, ?, ?)", rows)
            db.executemany("DELETE FROM samples WHERE series = ? AND t < ?", prune)


def connect_writer(path: str) -> Callable[[], sqlite3.Connection]:
    """A factory of the writer's own connection to the (already migrated) state file."""

    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        with contextlib.suppress(sqlite3.Error):
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    return connect


def open_history(
    db: sqlite3.Connection,
    path: str,
    metrics: WatcherMetrics,
    retention: Retention,
    max_in_memory: int,
) -> SampleHistory:
    """The daemon's history: on disk beside the state file unless that lives in memory."""
    disk = None if path == ":memory:" else SampleDisk(db, connect_writer(path), metrics)
    return SampleHistory(retention, max_in_memory, disk)
