"""alertmanager_configs against a real prometheus-alertmanager started on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.am_support import needs_alertmanager, poll, run_alertmanager
from tests.notify_support import Sink, coupon_alert, dispatcher, make_config, serve
from watcher.clock import FakeClock
from watcher.config import AlertmanagerConfig, ReceiverConfig, RouteConfig
from watcher.notify.alertmanager import ResendTracker, postable


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[tuple[str, Sink]]:
    """A real Alertmanager whose only receiver is a local webhook sink."""
    async with serve(Sink()) as sink:
        config = (
            "route: {receiver: sink, group_by: [alertname], group_wait: 1s,"
            " group_interval: 1m, repeat_interval: 1h}\n"
            f"receivers: [{{name: sink, webhook_configs: [{{url: '{sink.url}/hook'}}]}}]\n"
        )
        async with run_alertmanager(tmp_path, config) as url:
            yield url, sink


@needs_alertmanager
async def test_two_replicas_behind_one_alertmanager_page_once(
    tmp_path: Path, alertmanager: tuple[str, Sink]
) -> None:
    """Both replicas forward the same alert (and re-send it); the Alertmanager pages once."""
    url, sink = alertmanager
    receiver = ReceiverConfig(name="ha", alertmanager_configs=(AlertmanagerConfig(url=url),))
    config = make_config([receiver], RouteConfig(receiver="ha"))
    # The Alertmanager is another process: time moves only when the test says so, or this
    # loop, idle while it waits for the answer, would let a delivery timeout pass at once.
    clock = FakeClock(time.time(), auto_advance=False)
    alert = coupon_alert(starts=clock.time() - 120)
    async with aiohttp.ClientSession() as session:
        replicas = [dispatcher(config, tmp_path / f"r{i}.db", session, clock) for i in range(2)]
        for _ in range(2):  # the second round is the re-send a minute later
            for r in replicas:
                await r.send([alert], clock.time())
                await r.tick()
            assert [] == [row for r in replicas for row in r.queued()]
            clock.advance(61)
        await poll(lambda: len(sink.accepted) >= 1, 10)
        await asyncio.sleep(1.5)  # room for a duplicate to show up if there were one
    assert 1 == len(sink.accepted)
    page = sink.accepted[0]
    assert ("firing", {"alertname": "MegaCouponExpiringSoon"}) == (
        page["status"],
        page["groupLabels"],
    )
    assert ["42"] == [a["labels"]["coupon_id"] for a in page["alerts"]]


def test_firing_alerts_are_valid_for_four_resend_delays_and_resent_each_minute() -> None:
    """endsAt = now + 4 * max(1m, evaluation interval); re-sent after 1m or when resolved."""
    alert = coupon_alert(starts=1000.0)
    assert "1970-01-01T00:04:00.000Z" == postable(alert, 0.0, 15.0)["endsAt"]
    assert "1970-01-01T00:08:00.000Z" == postable(alert, 0.0, 120.0)["endsAt"]
    tracker = ResendTracker()
    assert [alert] == tracker.due([alert], 0.0)
    assert [] == tracker.due([alert], 59.0)
    assert [alert] == tracker.due([alert], 60.0)
    resolved = coupon_alert(starts=1000.0, ends=70.0)
    assert [resolved] == tracker.due([resolved], 61.0)
