"""Delivery end to end: real daemon, simulator, and a Slack-shaped sink on 127.0.0.1.

A coupon starts expiring → one Slack message within group_wait + one poll, despite the sink
answering 500 at first and the daemon being SIGKILLed while the message is queued; no
duplicate after the restart; the coupon is fixed → exactly one resolved message.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import closing

import pytest
from aiohttp import web

from tests.conftest import Writer
from tests.e2e import Daemon, Simulator, Sink, running, sim_daemon, until
from tests.reliability import record

pytestmark = pytest.mark.e2e
DAY_MS = 86_400_000
RULES = """\
groups:
  - name: coinw
    rules:
      - alert: MegaCouponExpiringSoon
        expr: >-
          (coinw_mega_coupon_expiry_timestamp_seconds{status=~"pending|unused"} - time()) < 3 * 86400
          and on (source, coupon_id, status)
          coinw_mega_coupon_remaining_amount > 0
        labels: {severity: warning}
        annotations:
          summary: "Mega Coupon {{ $labels.coupon_id }} expires in {{ humanizeDuration $value }}"
"""


def slack_daemon(write: Writer, sim: Simulator, route: str, slack: str) -> Daemon:
    """A daemon on the simulator's coupons with RULES, ``route`` and one Slack receiver."""
    write("rules/coupon.yaml", RULES)
    receiver = f"receivers: [{{name: slack, slack_configs: [{slack}]}}]\n"
    rest = f"rule_files: [rules/*.yaml]\nroute: {route}\n{receiver}"
    return sim_daemon(write, sim.url, rest, statuses="[unused]", interval="2s")


@pytest.fixture
async def world(write: Writer) -> AsyncIterator[tuple[Simulator, Sink, Daemon]]:
    sim, sink = Simulator(), Sink()
    async with running(sim, sink):
        not_yet = int(time.time() * 1000) + 40 * DAY_MS  # not expiring yet
        sim.state.coupons[800000001]["endTime"] = not_yet
        route = (
            "{receiver: slack, group_by: [alertname], group_wait: 2s, group_interval: 3s,"
            " repeat_interval: 1h}"
        )
        slack = f'{{api_url: "{sink.url}", channel: "#oncall", send_resolved: true}}'
        daemon = slack_daemon(write, sim, route, slack)
        yield sim, sink, daemon
        await daemon.kill()


async def test_one_page_through_500s_and_sigkill_then_one_resolved(
    world: tuple[Simulator, Sink, Daemon],
) -> None:
    """Exactly one firing and one resolved Slack message, whatever fails in between."""
    sim, sink, daemon = world
    await daemon.start()
    await daemon.wait_for(lambda m: m.get('watcher_source_up{source="sim"}') == 1.0)

    sink.down = True
    started = time.monotonic()
    sim.state.coupons[800000001]["endTime"] = int(time.time() * 1000) + 2 * DAY_MS
    await until(lambda: len(sink.posts) >= 1, 15, "the first delivery attempt")
    first_attempt = sink.posts[0][0] - started
    assert first_attempt <= 2 + 2 + 2.5  # group_wait + one poll interval + evaluation slack

    assert daemon.proc is not None
    daemon.proc.kill()  # SIGKILL while the page is queued and the sink is down
    await daemon.proc.wait()
    assert [] == sink.delivered()

    sink.down = False
    sink.script = [500, 500, 500]
    await daemon.start()
    await until(lambda: len(sink.delivered()) >= 1, 40, "the queued page after restart")
    await daemon.evaluations_later(5)  # several group intervals: a duplicate would show up here
    firing = sink.delivered()
    assert 1 == len(firing)
    attachment = firing[0]["attachments"][0]
    assert "#oncall" == firing[0]["channel"]
    assert "FIRING" in attachment["title"]
    assert "Mega Coupon 800000001 expires in" in str(firing[0])

    sim.state.coupons[800000001]["endTime"] = int(time.time() * 1000) + 40 * DAY_MS
    await until(lambda: len(sink.delivered()) >= 2, 20, "the resolved message")
    await daemon.evaluations_later(4)
    messages = sink.delivered()
    assert 2 == len(messages)
    assert "RESOLVED" in messages[1]["attachments"][0]["title"]
    assert 0 == await daemon.terminate()


class SlowSink(Sink):
    """A Slack stand-in that takes ``delay`` seconds to answer (arrivals logged at once)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.arrived = asyncio.Event()

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append((time.monotonic(), 200, body))
        self.arrived.set()
        await asyncio.sleep(self.delay)
        return web.Response(text="ok")


async def test_sigterm_during_a_3s_answer_sends_one_copy(write: Writer) -> None:
    """SIGTERM while Slack takes 3 s to answer: the daemon waits for the answer, exits 0, and
    neither it nor its successor sends the page again (the issue saw two copies)."""
    sim, sink = Simulator(), SlowSink(3.0)
    async with running(sim, sink):
        sim.state.coupons[800000001]["endTime"] = int(time.time() * 1000) + 2 * DAY_MS
        route = "{receiver: slack, group_by: [alertname], group_wait: 1s, group_interval: 3s}"
        daemon = slack_daemon(write, sim, route, f'{{api_url: "{sink.url}"}}')
        try:
            await daemon.start()
            await asyncio.wait_for(sink.arrived.wait(), 30)
            assert 0 == await daemon.terminate()
            assert 1 == len(sink.posts)
            with closing(sqlite3.connect(write.root / "state.db")) as db:
                assert (0,) == db.execute("SELECT COUNT(*) FROM notify_outbox").fetchone()
            await daemon.start()  # polls and evaluates again: the notification log says "sent"
            await daemon.wait_for(lambda m: m.get('watcher_source_up{source="sim"}') == 1.0)
            assert 0 == await daemon.terminate()
            assert 1 == len(sink.posts)
        finally:
            await daemon.kill()
    record("delivery", "SIGTERM during a 3 s answer (real daemon)", {"posts": len(sink.posts)})
