"""The state file: one daemon per file, corrupt files set aside, migrations, full disks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from tests.reliability import record
from tests.test_rules_state import LOW, T0, groups, manager
from watcher.errors import StateError
from watcher.metrics import WatcherMetrics
from watcher.series import Series, Snapshot
from watcher.state import SCHEMA_VERSION, StateFile, open_db
from watcher.store import Health, SeriesStore


def test_a_second_open_of_the_same_file_is_refused(tmp_path: Path) -> None:
    """While one daemon holds the file, another gets a one-line error; after close it may."""
    path = str(tmp_path / "state.db")
    first = StateFile.open(path)
    with pytest.raises(StateError, match=r"state\.db is in use by another watcher \(pid \d+\)"):
        StateFile.open(path)
    first.close()
    StateFile.open(path).close()
    record("storage", "second daemon on the same state file", {"refused": "one line, exit 1"})


def test_a_file_that_is_not_a_database_is_moved_aside(tmp_path: Path) -> None:
    """Garbage in the state file: logged, kept under a new name, and a fresh file is used."""
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with capture_logs() as logs:
        state = StateFile.open(str(path))
    assert state.moved_aside is not None
    assert b"this is not sqlite" in Path(state.moved_aside).read_bytes()
    assert ["state.corrupt"] == [e["event"] for e in logs if e["log_level"] == "error"]
    assert [("ok",)] == state.db.execute("PRAGMA integrity_check").fetchall()
    state.close()
    record("storage", "state file that is not a database", {"moved_aside": True, "crash": 0})


def test_a_corrupt_page_is_moved_aside(tmp_path: Path) -> None:
    """A database whose pages were overwritten fails the integrity check and is set aside."""
    path = tmp_path / "state.db"
    db = open_db(str(path))
    db.execute("PRAGMA journal_mode=DELETE")
    db.executemany(
        "INSERT INTO notify_silences VALUES (?, '[]', 0, 1, 0, 'me', ?)",
        [(str(i), "x" * 500) for i in range(200)],
    )
    db.close()
    raw = bytearray(path.read_bytes())
    raw[4096 * 3 : 4096 * 3 + 2000] = b"\xff" * 2000  # scribble over a table page
    path.write_bytes(bytes(raw))
    state = StateFile.open(str(path))
    assert state.moved_aside is not None
    assert 0 == state.db.execute("SELECT COUNT(*) FROM notify_silences").fetchone()[0]
    state.close()
    record("storage", "corrupt page in the state file", {"moved_aside": True, "crash": 0})


def test_files_of_the_previous_release_are_migrated(tmp_path: Path) -> None:
    """rule_alerts_v2 becomes rule_alerts with its rows; user_version says the schema."""
    path = str(tmp_path / "state.db")
    old = sqlite3.connect(path)
    with old:
        old.execute(
            "CREATE TABLE rule_alerts_v2 (file TEXT, group_name TEXT, rule TEXT, occurrence INT,"
            " labels TEXT, annotations TEXT, state TEXT, active_at REAL, fired_at REAL,"
            " resolved_at REAL, keep_firing_since REAL, value REAL,"
            " PRIMARY KEY (file, group_name, rule, occurrence, labels))"
        )
        old.execute(
            "INSERT INTO rule_alerts_v2 VALUES ('f','g','r',0,'[]','{}','firing',1,2,NULL,NULL,5)"
        )
    old.close()
    db = open_db(path)
    assert SCHEMA_VERSION == db.execute("PRAGMA user_version").fetchone()[0]
    assert [("firing", 5.0)] == db.execute("SELECT state, value FROM rule_alerts").fetchall()
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "rule_alerts_v2" not in names


def test_a_file_from_a_newer_watcher_is_refused(tmp_path: Path) -> None:
    """Downgrades do not guess at a schema they do not know."""
    path = str(tmp_path / "state.db")
    db = open_db(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError, match="newer than this watcher"):
        StateFile.open(path)


def fill_disk(db: sqlite3.Connection) -> None:
    """Make every write fail as SQLITE_FULL, like a full disk: cap the file, then fill it."""
    db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
            " INSERT INTO filler SELECT zeroblob(512) FROM n"
        )


def test_a_full_disk_loses_no_alert_state(tmp_path: Path) -> None:
    """Writes fail while the disk is full: counted, retried, and written once there is room."""
    path = str(tmp_path / "state.db")
    db = open_db(path)
    registry = CollectorRegistry()
    m = manager(groups(tmp_path, LOW), db, registry)
    fill_disk(db)
    many = Snapshot.of(T0, [Series("balance", {"user": f"u{i:03}"}, 50) for i in range(200)])
    with capture_logs() as logs:
        m.evaluate(many)
    assert m.write_failed
    assert 1.0 == registry.get_sample_value("watcher_state_write_errors_total", {"what": "alerts"})
    assert "state.write_failed" in [e["event"] for e in logs]
    db.execute("PRAGMA max_page_count = 1073741823")
    m.evaluate(Snapshot.of(T0 + 60, many.select("balance")))
    assert not m.write_failed
    db.close()
    # every alert is in the file as it was (a restart then restores a pending `for` timer the
    # way Prometheus does: tests/test_rules_restore.py)
    stored = open_db(path).execute("SELECT state, active_at FROM rule_alerts").fetchall()
    assert 200 * [("pending", T0)] == [tuple(row) for row in stored]
    record("storage", "full disk (alert state)", {"lost": 0, "counted": True, "retried": True})


def test_series_and_health_outlive_the_process_and_age_from_their_poll(tmp_path: Path) -> None:
    """A restart sees the last good series with their original time; stale_after still counts."""
    path = str(tmp_path / "state.db")
    store = SeriesStore(open_db(path))
    store.configure("src", 300)
    series = [Series("balance", {"source": "src", "user": "a"}, 42.5)]
    store.put_groups("src", {"a": series}, T0, Health(True, T0, T0, None))
    store.put_groups("gone", {"x": series}, T0)

    again = SeriesStore(open_db(path))
    again.configure("src", 300)
    assert 1 == again.restore(["src"], T0 + 100)
    assert series == list(again.snapshot(T0 + 299).select("balance"))
    assert Health(True, T0, T0, None) == again.health("src")
    assert None is again.health("gone")
    assert [] == list(again.snapshot(T0 + 301).select("balance"))  # 301 s after the poll


def test_series_stay_in_memory_when_the_disk_is_full(tmp_path: Path) -> None:
    """A failed write raises for the caller to count; the rules still see the new series."""
    db = open_db(str(tmp_path / "state.db"))
    store = SeriesStore(db)
    store.configure("src", 300)
    fill_disk(db)
    big = [Series("balance", {"user": str(i), "pad": "x" * 200}, 1.0) for i in range(100)]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.put_groups("src", {"a": big}, T0)
    assert 100 == len(list(store.snapshot(T0).select("balance")))
    db.execute("PRAGMA max_page_count = 1073741823")
    store.put_groups("src", {"a": big}, T0 + 60)  # unchanged, but rewritten after the failure
    assert 1 == db.execute("SELECT COUNT(*) FROM series_groups").fetchone()[0]
    record("storage", "full disk (series)", {"lost": 0, "in_memory_view": "kept", "retried": True})


def test_metrics_name_every_state_write_error_kind() -> None:
    """The write-error counter exists at 0 for every kind before anything fails."""
    registry = CollectorRegistry()
    WatcherMetrics(registry)
    for what in ("series", "alerts", "notifications", "silences"):
        assert 0.0 == registry.get_sample_value("watcher_state_write_errors_total", {"what": what})
