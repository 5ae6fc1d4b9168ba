"""The SQLite file behind ``storage.path``: alert state, notification log, outbox, silences.

One connection per process, opened here; each subsystem creates its own tables with
``CREATE TABLE IF NOT EXISTS`` and commits its own writes. Writes are small and rare (state
changes), so they run on the event loop thread.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_db(path: str) -> sqlite3.Connection:
    """Open (creating folders and file as needed) the state database in WAL mode."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn
