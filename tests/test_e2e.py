"""The real daemon, as a subprocess, against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import Writer
from tests.e2e import Daemon, Simulator, free_port, served_from, sim_coupons
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY

pytestmark = pytest.mark.e2e

COUPON = (
    'coinw_mega_coupon_remaining_amount{{coupon_id="{id}",source="sim",status="{status}",team="t"}}'
)


def write_config(write: Writer, sim: Simulator, port: int, secret: str = DEMO_SECRET_KEY) -> Path:
    source = sim_coupons(
        sim.url, secret=secret, interval="1s", statuses="[unused, used]", labels="{team: t}"
    )
    return write("watcher.yaml", f"{served_from(write.root, port)}sources:\n{source}")


StartDaemon = Callable[..., Awaitable[Daemon]]


@pytest.fixture
async def start_daemon(sim: Simulator, write: Writer) -> AsyncIterator[StartDaemon]:
    """Start `watcher run` on a free port against the simulator; killed after the test."""
    started: list[Daemon] = []

    async def start(secret: str = DEMO_SECRET_KEY) -> Daemon:
        port = free_port()
        daemon = Daemon(write_config(write, sim, port, secret=secret), port)
        started.append(daemon)
        await daemon.start()
        return daemon

    yield start
    for d in started:
        await d.kill()


async def test_daemon_serves_coupons_follows_changes_and_exits_0_on_sigterm(
    sim: Simulator, start_daemon: StartDaemon
) -> None:
    """Coupons appear on /metrics, a coupon moved upstream moves here, SIGTERM exits 0."""
    daemon = await start_daemon()
    unused = COUPON.format(id=800000001, status="unused")
    got = await daemon.wait_for(lambda m: unused in m)
    assert got[unused] == 50.0
    assert got['watcher_source_up{source="sim"}'] == 1.0
    assert await daemon.get("/-/ready") == (200, "Ready.\n")
    assert (await daemon.get("/-/healthy"))[0] == 200

    sim.state.coupons[800000001]["type"] = 2  # the coupon was used up upstream
    sim.state.coupons[800000001]["currentAmount"] = 0
    used = COUPON.format(id=800000001, status="used")
    got = await daemon.wait_for(lambda m: used in m and unused not in m)
    assert got[used] == 0.0

    assert await daemon.terminate() == 0
    assert sim.state.summary()["rate_limit_violations"] == 0


async def test_wrong_secret_marks_source_down_then_recovers(
    sim: Simulator, start_daemon: StartDaemon
) -> None:
    """A wrong secret: up 0, auth errors rising, no traceback; fixed upstream: up 1."""
    daemon = await start_daemon(secret="wrong-secret")
    auth = 'watcher_source_errors_total{reason="auth",source="sim"}'
    first = await daemon.wait_for(lambda m: m.get(auth, 0) >= 1)
    assert first['watcher_source_up{source="sim"}'] == 0.0
    await daemon.wait_for(lambda m: m.get(auth, 0) > first[auth])

    sim.state.accounts[DEMO_API_KEY] = "wrong-secret"  # the key's secret now matches the config
    await daemon.wait_for(lambda m: m.get('watcher_source_up{source="sim"}') == 1.0)
    assert await daemon.terminate() == 0
    stderr = await daemon.stderr()
    assert "Traceback" not in stderr
    assert "wrong-secret" not in stderr
    assert '"reason": "auth"' in stderr


async def test_faults_never_crash_the_daemon(sim: Simulator, start_daemon: StartDaemon) -> None:
    """HTTP 500s, malformed JSON and 29001 bursts: errors counted, series kept, daemon alive."""
    daemon = await start_daemon()
    unused = COUPON.format(id=800000001, status="unused")
    await daemon.wait_for(lambda m: unused in m)
    sim.state.faults.inject("coupon", "malformed", 1)
    sim.state.faults.inject("coupon", "rate_limit", 1)
    malformed = 'watcher_source_errors_total{reason="malformed",source="sim"}'
    limited = 'watcher_source_errors_total{reason="rate_limited",source="sim"}'
    got = await daemon.wait_for(lambda m: m.get(malformed, 0) >= 1 and m.get(limited, 0) >= 1)
    assert unused in got  # last good series kept while failing (stale_after not reached)
    assert await daemon.terminate() == 0
