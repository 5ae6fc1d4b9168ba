"""alertmanager_configs against a real prometheus-alertmanager started on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from tests.notify_support import Sink, coupon_alert, make_config, serve
from watcher.clock import FakeClock
from watcher.config import AlertmanagerConfig, ReceiverConfig, RouteConfig
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher
from watcher.notify.alertmanager import ResendTracker, postable
from watcher.state import open_db

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [
    pytest.mark.external,
    pytest.mark.skipif(
        BINARY is None and os.environ.get("CI") != "true",
        reason="prometheus-alertmanager is not installed",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[tuple[str, Sink]]:
    """A real Alertmanager whose only receiver is a local webhook sink."""
    assert BINARY is not None
    async with serve(Sink()) as sink:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            "route: {receiver: sink, group_by: [alertname], group_wait: 1s,"
            " group_interval: 1m, repeat_interval: 1h}\n"
            f"receivers: [{{name: sink, webhook_configs: [{{url: '{sink.url}/hook'}}]}}]\n"
        )
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            BINARY,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as s:
                for _ in range(100):
                    try:
                        async with s.get(f"{url}/-/ready") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            yield url, sink
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=10)


async def wait_for(sink: Sink, count: int, seconds: float) -> None:
    """Poll (bounded) until the sink accepted ``count`` requests; the sender is another process."""
    for _ in range(int(seconds * 10)):
        if len(sink.accepted) >= count:
            return
        await asyncio.sleep(0.1)


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
        replicas = [
            Dispatcher(
                config,
                db=open_db(str(tmp_path / f"r{i}.db")),
                session=session,
                clock=clock,
                metrics=WatcherMetrics(CollectorRegistry()),
                console=io.StringIO(),
            )
            for i in range(2)
        ]
        for _ in range(2):  # the second round is the re-send a minute later
            for r in replicas:
                await r.send([alert], clock.time())
                await r.tick()
            assert [] == [row for r in replicas for row in r.queued()]
            clock.advance(61)
        await wait_for(sink, 1, 10)
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
