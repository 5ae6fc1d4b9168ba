"""A full disk under the notification pipeline: pages are late, never lost, never doubled."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from tests.notify_support import T0, Sink, coupon_alert, dispatcher
from tests.reliability import record
from tests.test_notify_dispatch import counter, sink, slack_config
from watcher.clock import FakeClock
from watcher.metrics import WatcherMetrics
from watcher.notify import DeliveryPolicy, Dispatcher
from watcher.notify.stage import WRITE_RETRY
from watcher.server.routes import add_alertmanager_api
from watcher.state import migrate

__all__ = ["sink"]  # a fixture


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
    return dispatcher(slack_config(sink), db, session, clock, metrics=metrics), db, metrics


async def page_twice(d: Dispatcher, clock: FakeClock) -> None:
    """The engine sends the page, and again 10 s later as rules would; the group flushes."""
    await d.send([coupon_alert("42")], clock.time())
    clock.advance(10)
    await d.send([coupon_alert("42")], clock.time())
    await d.tick()


async def test_a_page_queued_on_a_full_disk_goes_out_once_there_is_room(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """The flush cannot write: nothing sent, counted; once there is room it is sent, once."""
    clock = FakeClock(T0)
    d, db, metrics = full_disk_dispatcher(tmp_path, sink, session, clock)
    db.full = True
    await page_twice(d, clock)
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
    await page_twice(d, clock)
    assert [] == sink.accepted
    db.full = True
    sink.down = False
    for _ in range(4):
        clock.advance(DeliveryPolicy().outbox_maximum + 5)
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


async def test_a_silence_written_on_a_full_disk_is_a_clean_500_and_changes_nothing(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """amtool's create, update and expire on a full disk: a one-line 500, the old silence kept
    as it was (not expired half-way), and the same requests succeed once there is room."""
    clock = FakeClock(T0)
    d, db, _metrics = full_disk_dispatcher(tmp_path, sink, session, clock)
    app = web.Application()
    add_alertmanager_api(app, d)
    body = {
        "matchers": [{"name": "coupon_id", "value": "42", "isRegex": False}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ops",
        "comment": "maintenance",
    }
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/api/v2/silences", json=body)
        first = (await resp.json())["silenceID"]
        db.full = True
        changed = dict(body, id=first, matchers=[{"name": "coupon_id", "value": "43"}])
        for method, path, payload in (
            ("POST", "/api/v2/silences", body),
            ("POST", "/api/v2/silences", changed),
            ("DELETE", f"/api/v2/silence/{first}", None),
        ):
            resp = await client.request(method, path, json=payload)
            assert 500 == resp.status, (method, payload)
            text = await resp.json()
            assert "database or disk is full" in text
            assert "\n" not in text
        assert {first: "active"} == {s.id: s.state(clock.time()) for s in d.silences()}
        db.full = False
        resp = await client.delete(f"/api/v2/silence/{first}")
        assert 200 == resp.status
    assert {first: "expired"} == {s.id: s.state(clock.time()) for s in d.silences()}
    record("storage", "full disk under silence create, update, expire", {"status": 500, "lost": 0})
