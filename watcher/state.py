"""The SQLite file behind ``storage.path``: the one place where state is written.

Alert state, the notification log, the outbox, silences, the last good series of every source
group and each source's last known health live in one file, so a restart sees what the
previous process saw (as Prometheus's TSDB outlives its process). This module owns the
connection: it takes an exclusive lock so a second daemon on the same file is refused, checks
the file's integrity (a corrupt file is moved aside and the daemon starts fresh rather than
crash-looping), migrates the schema by ``PRAGMA user_version``, and gives every subsystem the
same ``transaction`` helper. Writes are small; they run on the event loop thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from watcher.errors import ConfigError, StateError, StateLockedError
from watcher.metrics import WatcherMetrics

log = structlog.get_logger(__name__)

_RULE_ALERTS = """
CREATE TABLE IF NOT EXISTS rule_alerts (
    file TEXT NOT NULL,
    group_name TEXT NOT NULL,
    rule TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    state TEXT NOT NULL,
    active_at REAL NOT NULL,
    fired_at REAL,
    resolved_at REAL,
    keep_firing_since REAL,
    value REAL NOT NULL,
    PRIMARY KEY (file, group_name, rule, occurrence, labels)
)
"""

_NOTIFY = """
CREATE TABLE IF NOT EXISTS notify_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    idx INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS notify_outbox_key ON notify_outbox (key);
CREATE TABLE IF NOT EXISTS notify_nflog (
    key TEXT PRIMARY KEY,      -- group key + receiver integration
    firing TEXT NOT NULL,      -- JSON list of fingerprints
    resolved TEXT NOT NULL,    -- JSON list of fingerprints
    timestamp REAL NOT NULL,   -- when it was notified (queued)
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,    -- JSON list of [name, op, value]
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL
);
"""

_SERIES = """
CREATE TABLE IF NOT EXISTS series_groups (
    source TEXT NOT NULL,
    grp TEXT NOT NULL,
    updated_at REAL NOT NULL,  -- when upstream last answered for this group (Unix seconds)
    series TEXT NOT NULL,      -- JSON list of [name, {labels}, value]
    PRIMARY KEY (source, grp)
);
CREATE TABLE IF NOT EXISTS source_health (
    source TEXT PRIMARY KEY,
    up INTEGER NOT NULL,
    last_poll REAL NOT NULL,
    last_success REAL,
    last_error TEXT
);
"""


def _has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})"))


def _v1(db: sqlite3.Connection) -> None:
    """Every table under its own name; files of the first release are carried over."""
    if _has_column(db, "rule_alerts", "alertname"):  # the first release's keying
        db.execute("ALTER TABLE rule_alerts RENAME TO rule_alerts_legacy")
    if _has_table(db, "rule_alerts_v2"):
        db.execute("ALTER TABLE rule_alerts_v2 RENAME TO rule_alerts")
    db.execute(_RULE_ALERTS)
    _script(db, _NOTIFY)
    _script(db, _SERIES)


def _v2(db: sqlite3.Connection) -> None:
    """Outbox rows carry their delivery deadline and firing count (bounded outbox, pipeline)."""
    db.execute("ALTER TABLE notify_outbox ADD COLUMN timeout REAL NOT NULL DEFAULT 10")
    db.execute("ALTER TABLE notify_outbox ADD COLUMN firing INTEGER NOT NULL DEFAULT 1")
    db.execute(
        "CREATE INDEX IF NOT EXISTS notify_outbox_target "
        "ON notify_outbox (receiver, integration, idx, next_attempt)"
    )


_SAMPLES = """
CREATE TABLE IF NOT EXISTS sample_series (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,      -- JSON object, keys sorted
    UNIQUE (name, labels)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL,   -- sample_series.id
    t INTEGER NOT NULL,        -- Unix milliseconds
    v NOT NULL,                -- REAL, or a NaN (the stale marker too) as its 8 bytes
    PRIMARY KEY (series, t)
) WITHOUT ROWID;
"""


def _v3(db: sqlite3.Connection) -> None:
    """Samples over time (watcher.history.disk), so a restart keeps the rules' ranges."""
    _script(db, _SAMPLES)


#: Schema migrations: entry n brings a file from user_version n to n + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3)
SCHEMA_VERSION = len(MIGRATIONS)


def _script(db: sqlite3.Connection, sql: str) -> None:
    # executescript would COMMIT the open transaction; run the statements one by one instead.
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; inside another one it joins it (commits with the outer)."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite rolls back by itself after some errors (SQLITE_FULL)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION``, one version per transaction."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        msg = f"schema version {version} is newer than this watcher's ({SCHEMA_VERSION})"
        raise StateError(msg)
    for target in range(version, SCHEMA_VERSION):
        with transaction(db):
            MIGRATIONS[target](db)
            db.execute(f"PRAGMA user_version = {target + 1}")


def open_db(path: str) -> sqlite3.Connection:
    """Open (creating folders and file as needed) and migrate the state database (no lock)."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass
class StateFile:
    """The daemon's open state file: connection, lock, and what happened on opening it."""

    path: str
    db: sqlite3.Connection
    #: where a corrupt file was moved before starting fresh, if that happened
    moved_aside: str | None = None
    _lock_fd: int | None = None

    @classmethod
    def open(cls, path: str) -> StateFile:
        """Lock, check and open ``path``; raise ``StateError`` with a one-line reason."""
        if path == ":memory:":
            return cls(path, open_db(path))
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fd = _lock(path)
        except StateLockedError:
            raise
        except OSError as exc:
            msg = f"cannot open {path}: {exc.strerror or exc}"
            raise StateError(msg) from None
        moved: str | None = None
        try:
            try:
                db = _open_checked(path)
            except sqlite3.DatabaseError as exc:
                moved = _move_aside(path)
                log.error("state.corrupt", path=path, error=str(exc), moved_to=moved)
                db = open_db(path)
        except (OSError, sqlite3.Error, StateError) as exc:
            os.close(fd)
            msg = f"cannot open {path}: {exc}"
            raise StateError(msg) from None
        return cls(path, db, moved, fd)

    def close(self) -> None:
        """Close the connection and release the lock."""
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _open_checked(path: str) -> sqlite3.Connection:
    db = open_db(path)
    try:
        result = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError:
        db.close()
        raise
    if result != ["ok"]:
        db.close()
        raise sqlite3.DatabaseError("integrity check: " + "; ".join(result[:3]))
    return db


def _lock(path: str) -> int:
    """An exclusive lock on ``path``.lock held for the life of the process."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        msg = f"{path} is in use by another watcher (pid {holder}); each daemon needs its own storage.path"
        raise StateLockedError(msg) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _move_aside(path: str) -> str:
    """Rename a corrupt file (and its WAL files) to ``path``.corrupt-<time>; return the name."""
    target = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(path + suffix, target + suffix)
    return target


def open_state(config_file: object, path: str, metrics: WatcherMetrics) -> StateFile:
    """The state file; a second daemon is refused, an unusable file falls back to memory.

    A daemon that cannot write its state (read-only volume, wrong permissions) still pages:
    it runs on an in-memory state, logs the error and sets ``watcher_state_persistent`` 0, so
    only what a restart would keep is lost, not the pages themselves.
    """
    try:
        state = StateFile.open(path)
    except StateLockedError as exc:
        msg = f"{config_file}: storage.path: {exc}"
        raise ConfigError([msg]) from None
    except StateError as exc:
        log.error(
            "state.unavailable",
            problem=f"{config_file}: storage.path: {exc}",
            effect="state is kept in memory only: a restart loses alert state and the outbox",
        )
        metrics.state_write_errors.labels(what="open").inc()
        metrics.state_persistent.set(0)
        return StateFile.open(":memory:")
    metrics.state_persistent.set(1 if path != ":memory:" else 0)
    return state
