"""A full disk under the notification pipeline: pages are late, never lost, never doubled."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from tests.notify_support import T0, Sink, coupon_alert
from tests.reliability import record
from tests.test_notify_dispatch import counter, session, sink, slack_config
from watcher.clock import FakeClock
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher, RetryPolicy
from watcher.notify.dispatch import WRITE_RETRY
from watcher.state import migrate

__all__ = ["session", "sink"]  # fixtures


class FullDisk(sqlite3.Connection):
    """A connection whose writes fail as SQLite fails them on a full disk, while ``full``."""

    full = False

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self._check(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        self._check(sql)
        return super().executemany(sql, parameters)

    def _check(self, sql: str) -> None:
        if self.full and sql.lstrip().split(" ", 1)[0].upper() in WRITES:
            msg = "database or disk is full"
            raise sqlite3.OperationalError(msg)


WRITES = {"INSERT", "UPDATE", "DELETE", "REPLACE"}


def full_disk_dispatcher(
    tmp_path: Path, sink: Sink, session: aiohttp.ClientSession, clock: FakeClock
) -> tuple[Dispatcher, FullDisk, WatcherMetrics]:
    db = sqlite3.connect(str(tmp_path / "state.db"), isolation_level=None, factory=FullDisk)
    migrate(db)
    assert isinstance(db, FullDisk)
    metrics = WatcherMetrics(CollectorRegistry())
    d = Dispatcher(
        slack_config(sink), db=db, session=session, clock=clock, metrics=metrics,
        console=io.StringIO(),
    )  # fmt: skip
    return d, db, metrics


async def test_a_page_queued_on_a_full_disk_goes_out_once_there_is_room(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """The flush cannot write: nothing sent, counted; once there is room it is sent, once."""
    clock = FakeClock(T0)
    d, db, metrics = full_disk_dispatcher(tmp_path, sink, session, clock)
    db.full = True
    await d.send([coupon_alert("42")], clock.time())
    clock.advance(10)
    await d.send([coupon_alert("42")], clock.time())
    await d.tick()
    assert [] == sink.requests
    assert counter(metrics, "watcher_state_write_errors_total", what="notifications") >= 1
    db.full = False
    clock.advance(WRITE_RETRY)
    for _ in range(4):
        await d.send([coupon_alert("42")], clock.time())
        await d.tick()
        clock.advance(60)
    assert 1 == len(sink.accepted)
    record(
        "storage",
        "full disk when a page is queued",
        {"lost": 0, "duplicate": 0, "late_by_s": WRITE_RETRY},
    )


async def test_a_delivery_whose_outbox_delete_fails_is_not_sent_again(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """Delivered, then the disk refuses the delete: the row is hidden, not re-sent, and
    deleted once the disk has room."""
    clock = FakeClock(T0)
    d, db, metrics = full_disk_dispatcher(tmp_path, sink, session, clock)
    sink.down = True
    await d.send([coupon_alert("42")], clock.time())
    clock.advance(10)
    await d.send([coupon_alert("42")], clock.time())
    await d.tick()
    assert [] == sink.accepted
    db.full = True
    sink.down = False
    for _ in range(4):
        clock.advance(RetryPolicy().outbox_maximum + 5)
        await d.send([coupon_alert("42")], clock.time())
        await d.tick()
    assert 1 == len(sink.accepted)
    assert counter(metrics, "watcher_state_write_errors_total", what="notifications") >= 1
    assert 0.0 == metrics.registry.get_sample_value("watcher_notification_queue_length")
    db.full = False
    clock.advance(60)
    await d.send([coupon_alert("42")], clock.time())
    await d.tick()
    assert 1 == len(sink.accepted)
    assert 0 == db.execute("SELECT COUNT(*) FROM notify_outbox").fetchone()[0]
    record("storage", "full disk after a delivery (outbox delete fails)", {"duplicate": 0})
