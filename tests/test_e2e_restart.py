"""Restarts and deploys never cost a page: a real daemon, the simulator and a Slack-shaped sink.

A firing daemon is SIGKILLed or SIGTERMed and started again: Slack gets nothing more (no false
RESOLVED, no repeated FIRING), the upstream sees no request closer than its limit, and the
source is never reported down because of the restart. A second daemon on the same state file
and a daemon whose port is taken are refused before they send anything upstream.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Writer
from tests.e2e import ROOT, Daemon, Simulator, Sink, free_port, running, served_from, sim_coupons
from tests.reliability import record
from watcher.simulator import DEMO_API_KEY
from watcher.simulator.coinw import key_id

pytestmark = pytest.mark.e2e
DAY_MS = 86_400_000
GROUP_WAIT, GROUP_INTERVAL = 1.0, 2.0
SENT = 'watcher_notifications_total{integration="slack",receiver="slack"}'
POLLS = 'watcher_source_poll_duration_seconds_count{source="sim"}'
SECOND_KEY = "second-daemon-key"
RULES = """\
groups:
  - name: coinw
    rules:
      - alert: MegaCouponExpiringSoon
        expr: (coinw_mega_coupon_expiry_timestamp_seconds - time()) < 3 * 86400
        labels: {severity: warning}
        annotations: {summary: "coupon {{ $labels.coupon_id }} expires soon"}
      - alert: SourceDown
        expr: watcher_source_up == 0
        labels: {severity: critical}
"""


@dataclass
class World:
    sim: Simulator
    sink: Sink
    config: Path
    port: int

    def daemon(self) -> Daemon:
        return Daemon(self.config, self.port)

    def violations(self) -> int:
        return int(self.sim.state.summary()["rate_limit_violations"])

    async def restart_loop(self, starts: int) -> list[float]:
        """Start the daemon ``starts`` times, each SIGKILLed right after its first poll; return
        when each kill happened (``time.monotonic()``, the clock the sink stamps posts with)."""
        killed_at = []
        for _ in range(starts):
            daemon = self.daemon()
            await daemon.start()
            await daemon.wait_for(lambda m: m.get(POLLS, 0) >= 1)
            await daemon.kill()
            killed_at.append(time.monotonic())
        return killed_at


@pytest.fixture(name="world")
async def world_fixture(write: Writer) -> AsyncIterator[World]:
    """The simulator (one coupon expiring), a Slack-shaped sink and a daemon config for both.

    ``stale_after`` is 5m as for a production interval: with the default 5 x 2 s, a run of
    restarts that are killed before they poll leaves the series unrefreshed for > 10 s, and
    they then expire (and the alert resolves) exactly as Prometheus's staleness would.
    """
    sim, sink = Simulator(), Sink()
    async with running(sim, sink):
        yield expiring_world(write, sim, sink)


def expiring_world(write: Writer, sim: Simulator, sink: Sink) -> World:
    """The coupon about to expire, the rules, and the daemon's config on both."""
    sim.state.coupons[800000001]["endTime"] = int(time.time() * 1000) + 2 * DAY_MS  # expiring
    write("rules/coupon.yaml", RULES)
    port = free_port()
    config = write(
        "watcher.yaml",
        f"""\
global: {{evaluation_interval: 1s}}
{served_from(write.root, port)}sources:
{sim_coupons(sim.url, statuses="[unused]", interval="2s", stale_after="5m")}rule_files: [rules/*.yaml]
route:
  receiver: slack
  group_by: [alertname]
  group_wait: {GROUP_WAIT:g}s
  group_interval: {GROUP_INTERVAL:g}s
  repeat_interval: 1h
receivers:
  - name: slack
    slack_configs: [{{api_url: "{sink.url}", channel: "#oncall", send_resolved: true}}]
""",
    )
    return World(sim, sink, config, port)


async def quiet_period(daemon: Daemon) -> dict[str, float]:
    """Let the restarted daemon poll twice and flush its groups several times over."""
    await daemon.wait_for(lambda m: m.get(POLLS, 0) >= 2)
    # group_wait + 2 group intervals of evaluations (one a second) and some slack
    return await daemon.evaluations_later(GROUP_WAIT + 2 * GROUP_INTERVAL + 2)


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
async def test_restarting_a_firing_daemon_sends_nothing(world: World, stop: str) -> None:
    """One FIRING before the restart; after it, nothing at all reaches Slack."""
    first = world.daemon()
    await first.start()
    # The daemon has recorded the delivery (not only the sink received it): a kill before that
    # is the at-least-once window, covered by the process fault suite.
    await first.wait_for(lambda m: m.get(SENT, 0) >= 1)
    assert ["[FIRING:1] MegaCouponExpiringSoon"] == [
        m["attachments"][0]["title"].split(" (")[0] for m in world.sink.delivered()
    ]
    if stop == "SIGKILL":
        await first.kill()
    else:
        assert 0 == await first.terminate()

    second = world.daemon()
    await second.start()
    try:
        m = await quiet_period(second)
    finally:
        await second.kill()
    assert 1 == len(world.sink.posts), [p[2]["attachments"][0]["title"] for p in world.sink.posts]
    assert 1.0 == m['watcher_source_up{source="sim"}']
    assert 0 == world.violations()
    record(
        "process",
        f"{stop} restart of a firing daemon",
        {"sent_after_restart": 0, "false_resolved": 0, "source_down": 0, "upstream_violations": 0},
    )


async def test_a_restart_loop_never_breaks_the_upstream_limit(world: World) -> None:
    """Five restarts in quick succession, each polling at once: no request inside CoinW's 2 s."""
    await world.restart_loop(5)
    assert world.sim.state.summary()["total"] >= 5
    assert 0 == world.violations()
    record("process", "5 restarts in a row, each polling at once", {"upstream_violations": 0})


async def test_watcher_once_beside_a_daemon_keeps_the_limit(world: World) -> None:
    """`watcher once` shares the running daemon's request slots: no violation."""
    daemon = world.daemon()
    await daemon.start()
    try:
        await daemon.wait_for(lambda m: m.get(POLLS, 0) >= 1)
        for _ in range(2):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "watcher", "once", "-c", str(world.config),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT),
            )  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert 0 == proc.returncode, err.decode()
    finally:
        await daemon.kill()
    assert 0 == world.violations()
    record("process", "watcher once beside a running daemon", {"upstream_violations": 0})


async def test_a_second_daemon_on_the_same_state_file_is_refused(world: World) -> None:
    """The second daemon (own port, same storage.path) exits 1 naming the file in use, before
    polling anything."""
    first = world.daemon()
    await first.start()
    # The second daemon polls with a key of its own, so the simulator's log tells its
    # requests from the first daemon's, however slowly either starts on a loaded machine.
    other = world.config.with_name("other.yaml")
    other.write_text(
        world.config.read_text()
        .replace(f"127.0.0.1:{world.port}", f"127.0.0.1:{free_port()}")
        .replace(f"api_key: {DEMO_API_KEY}", f"api_key: {SECOND_KEY}")
    )
    try:
        await first.wait_for(lambda m: m.get(POLLS, 0) >= 1)
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "watcher", "run", "-c", str(other),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT),
        )  # fmt: skip
        _, err = await asyncio.wait_for(second.communicate(), 30)
    finally:
        await first.kill()
    assert 1 == second.returncode
    assert "state.db is in use by another watcher" in err.decode()
    assert 1 == sum("storage.path" in line for line in err.decode().splitlines())
    assert "Traceback" not in err.decode()
    keys = {r.key_id for r in world.sim.state.requests}
    assert key_id(DEMO_API_KEY) in keys  # the log does name keys: the first daemon's is there
    assert key_id(SECOND_KEY) not in keys  # the second daemon polled nothing
    assert 0 == world.violations()


async def test_a_taken_port_fails_before_any_upstream_request(world: World) -> None:
    """Binding comes first: exit 1 with a one-line error and no request to the upstream."""
    with socket.create_server(("127.0.0.1", world.port)):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "watcher", "run", "-c", str(world.config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert 1 == proc.returncode
    assert (
        f"cannot listen on 127.0.0.1:{world.port}: Address already in use\n"
        == (err.decode().split("server.listen: ")[1])
    )
    assert 0 == world.sim.state.summary()["total"]
    record("process", "listen port taken", {"exit": 1, "upstream_requests": 0})
