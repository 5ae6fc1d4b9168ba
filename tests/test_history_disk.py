"""Samples in SQLite: written off the event loop, kept across a restart, read back past memory."""

from __future__ import annotations

import math
import sqlite3
import struct
from pathlib import Path

from prometheus_client import CollectorRegistry

from tests.test_notify_fulldisk import FullDisk
from watcher.history import STALE_NAN, Retention, SampleHistory
from watcher.history.disk import SampleDisk, connect_writer
from watcher.metrics import WatcherMetrics
from watcher.rules.evaluate import Evaluator
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import compile_expr
from watcher.series import Series
from watcher.state import open_db
from watcher.store import SeriesStore

DAY = 86_400_000


def _history(path: Path, **kw: int) -> tuple[SampleHistory, SampleDisk, WatcherMetrics]:
    db = open_db(str(path))
    metrics = WatcherMetrics(CollectorRegistry())
    disk = SampleDisk(db, connect_writer(str(path)), metrics)
    return SampleHistory(Retention(DAY), disk=disk, **kw), disk, metrics


def _values(history: SampleHistory, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
    store = SeriesStore()
    evaluator = Evaluator(history.over(SnapshotQueryable(store.snapshot(at))), at)
    vector = evaluator.vector(compile_expr(expr, history=True))
    return sorted(((dict(s.labels), s.value) for s in vector), key=lambda x: sorted(x[0].items()))


def _poll(history: SampleHistory, steps: range, series: int = 3) -> None:
    for step in steps:
        batch = [Series("c_total", {"i": str(i)}, float(step * (i + 1))) for i in range(series)]
        history.record("s", "g", batch, step * 60.0)


def test_a_restart_keeps_the_rules_ranges(tmp_path: Path) -> None:
    """What a range function reads before a restart it reads after it, from SQLite."""
    history, disk, _ = _history(tmp_path / "state.db")
    _poll(history, range(30))
    before = _values(history, "increase(c_total[20m])", 29 * 60)
    disk.close()
    again, disk2, _ = _history(tmp_path / "state.db")
    assert 3 == again.load(29 * 60.0, 10 * 60_000)  # only 10 minutes go to memory at once
    assert before == _values(again, "increase(c_total[20m])", 29 * 60)
    assert [({"i": "0"}, 5.0)] == _values(again, 'c_total{i="0"} offset 24m', 29 * 60)
    disk2.close()


def test_older_samples_are_read_back_past_the_memory_bound(tmp_path: Path) -> None:
    """With memory capped, a query over the whole day still sees every sample, from disk."""
    history, disk, _ = _history(tmp_path / "state.db", max_in_memory=1000)
    _poll(history, range(600), series=5)
    assert len(history) <= 1000
    assert 0 == disk.pending or disk.write_pending()
    got = _values(history, "count_over_time(c_total[1d])", 599 * 60)
    assert [600.0] * 5 == [v for _, v in got]
    assert [({"i": "1"}, 200.0)] == _values(history, 'c_total{i="1"} offset 499m', 599 * 60)
    disk.close()


def test_special_values_survive_the_disk_bit_for_bit(tmp_path: Path) -> None:
    """NaN, the stale marker, -0 and infinities come back from SQLite exactly."""
    history, disk, _ = _history(tmp_path / "state.db")
    values = [math.nan, -0.0, math.inf, -math.inf, 1e-300]
    for step, value in enumerate(values):
        history.record("s", "g", [Series("x", {}, value)], step)
    history.drop("s", "g", len(values))
    disk.close()
    db = open_db(str(tmp_path / "state.db"))
    again = SampleHistory(Retention(DAY), disk=SampleDisk(db, connect_writer(":memory:"), _m()))
    again.load(10, 0)
    (p,) = again.matching("x", [])
    bits = [struct.pack("<d", v) for _, v in again.samples(p, 0, 10_000)]
    assert [struct.pack("<d", v) for v in [*values, STALE_NAN]] == bits


def _m() -> WatcherMetrics:
    return WatcherMetrics(CollectorRegistry())


def test_a_full_disk_loses_no_sample(tmp_path: Path) -> None:
    """Failed writes are counted and retried with the same rows until the disk has room."""
    path = tmp_path / "state.db"
    db = open_db(str(path))
    writer = sqlite3.connect(str(path), isolation_level=None, factory=FullDisk)
    assert isinstance(writer, FullDisk)
    metrics = _m()
    disk = SampleDisk(db, lambda: writer, metrics)
    history = SampleHistory(Retention(DAY), disk=disk)
    writer.full = True
    _poll(history, range(5))
    assert not disk.write_pending()
    assert not disk.write_pending()
    assert 2.0 == metrics.registry.get_sample_value(
        "watcher_state_write_errors_total", {"what": "samples"}
    )
    assert 15 == disk.pending
    writer.full = False
    assert disk.write_pending()
    assert (15, 0) == (db.execute("SELECT count(*) FROM samples").fetchone()[0], disk.pending)


def test_a_full_queue_gives_up_the_oldest_rows_counted(tmp_path: Path) -> None:
    """The write queue is bounded: past it the oldest rows go, and the count says how many."""
    db = open_db(str(tmp_path / "state.db"))
    metrics = _m()
    disk = SampleDisk(db, connect_writer(str(tmp_path / "state.db")), metrics, max_pending=4)
    for ms in range(6):
        disk.append(1, ms, 1.0)
    assert 4 == disk.pending
    assert 2.0 == metrics.registry.get_sample_value("watcher_state_samples_unsaved_total", {})


def test_samples_past_the_retention_leave_the_disk(tmp_path: Path) -> None:
    """Nothing older than a metric's retention is kept on disk either."""
    history, disk, _ = _history(tmp_path / "state.db")
    history.set_retention(Retention(30 * 60_000))
    _poll(history, range(60), series=1)
    disk.write_pending()
    db = open_db(str(tmp_path / "state.db"))
    oldest = db.execute("SELECT min(t) FROM samples").fetchone()[0]
    assert oldest >= (50 - 30) * 60_000  # pruned at 50 m, the last 10-minute mark
    disk.close()
