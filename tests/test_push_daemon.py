"""Push inside the daemon: supervised with its source, stopped on reload and shutdown, and
nothing at all when it is off."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import generate_latest
from structlog.testing import capture_logs

from tests.conftest import Writer
from tests.e2e import Simulator
from watcher.app import Daemon
from watcher.clock import FakeClock
from watcher.config import load_config
from watcher.page.model import build_page
from watcher.page.render import render_parts
from watcher.page.ring import SampleRing
from watcher.simulator.coinw_ws import HUB

CONFIG = """\
storage: {{path: ":memory:"}}
rule_files: [rules.yaml]
sources:
  - name: c
    type: coinw_mega_coupon
    base_url: {url}
    api_key: demo-api-key
    secret_key: demo-secret-key
    statuses: [unused]
    interval: 5m
    push: {{enabled: {enabled}, url: "ws{ws}/perpum"}}
"""
RULES = """\
groups:
  - name: g
    rules:
      - alert: NewCoupon
        expr: coinw_mega_coupon_remaining_amount{coupon_id="900000001"} > 0
"""


def daemon_for(sim: Simulator, write: Writer, *, enabled: bool) -> tuple[Daemon, FakeClock, Path]:
    write("rules.yaml", RULES)
    ws = sim.url.removeprefix("http")
    path = write("w.yaml", CONFIG.format(url=sim.url, ws=ws, enabled=str(enabled).lower()))
    clock = FakeClock(start=time.time())
    sim.state.monotonic, sim.state.wall = clock.monotonic, clock.time
    return Daemon(load_config(path), clock=clock), clock, path


async def wait(clock: FakeClock, check: Callable[[], bool], limit: float = 10.0) -> None:
    started = clock.monotonic()
    while not check():
        assert clock.monotonic() - started < limit, "condition not met in fake time"
        await clock.sleep(0.01)


def push_series(daemon: Daemon) -> list[str]:
    return [
        s.name
        for family in daemon.self_registry.collect()
        for s in family.samples
        if s.name.startswith("watcher_source_push")
    ]


def sources_part(daemon: Daemon) -> str:
    return render_parts(build_page(daemon, SampleRing()))["sources"]


def push_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("push:")]


async def test_push_off_opens_no_connection_and_changes_nothing(
    sim: Simulator, write: Writer
) -> None:
    """With push off the source polls as before: no WebSocket, no push series, no push task."""
    daemon, clock, _ = daemon_for(sim, write, enabled=False)
    await daemon.start()
    await wait(clock, lambda: daemon.ready)
    assert set() == sim.app[HUB].conns
    assert "push" not in sim.state.summary()["by_endpoint"]
    assert [] == push_series(daemon)
    assert [] == push_tasks()
    assert "push" not in sources_part(daemon)
    await daemon.stop()


async def test_the_status_page_shows_the_connection(sim: Simulator, write: Writer) -> None:
    """The sources table says whether the WebSocket is up and how often it was made again."""
    daemon, clock, _ = daemon_for(sim, write, enabled=True)
    await daemon.start()
    await wait(clock, lambda: any(c.subscribed for c in sim.app[HUB].conns))
    await wait(clock, lambda: "push connected" in sources_part(daemon))
    assert "0 reconnects" in sources_part(daemon)
    await sim.app[HUB].strike("drop", 1)
    await wait(clock, lambda: "push disconnected" in sources_part(daemon))
    assert "1 reconnects" in sources_part(daemon)
    await daemon.stop()


async def test_a_push_fires_the_rule_at_once_and_stop_closes_the_socket(
    sim: Simulator, write: Writer
) -> None:
    """A coupon created upstream fires its alert right after the push, long before the next
    5-minute poll; shutdown closes the WebSocket and ends its loop."""
    daemon, clock, _ = daemon_for(sim, write, enabled=True)
    await daemon.start()
    await wait(clock, lambda: daemon.ready and bool(sim.app[HUB].conns))
    await wait(clock, lambda: any(c.subscribed for c in sim.app[HUB].conns))
    assert ["push:c"] == push_tasks()
    assert not daemon.last_alerts
    coupon = {**sim.state.coupons[800000003], "id": 900000001, "currentAmount": 7}
    sim.state.coupons[900000001] = coupon
    await sim.app[HUB].push(coupon)
    pushed_at = clock.monotonic()
    await wait(clock, lambda: any(a.labels["alertname"] == "NewCoupon" for a in daemon.last_alerts))
    assert clock.monotonic() - pushed_at < 0.5
    await daemon.stop()
    await asyncio.sleep(0)  # the simulator's handler sees the close
    assert [] == push_tasks()
    assert 0.0 == daemon.self_registry.get_sample_value(
        "watcher_source_push_connected", {"source": "c"}
    )


async def test_a_reload_that_turns_push_off_closes_the_socket(
    sim: Simulator, write: Writer
) -> None:
    """Reloading with push off stops the loop and drops the push series."""
    daemon, clock, path = daemon_for(sim, write, enabled=True)
    await daemon.start()
    await wait(clock, lambda: any(c.subscribed for c in sim.app[HUB].conns))
    path.write_text(path.read_text().replace("enabled: true", "enabled: false"))
    assert [] == await daemon.reload()
    assert [] == push_tasks()
    assert [] == push_series(daemon)
    await wait(clock, lambda: not sim.app[HUB].conns)
    await daemon.stop()


async def test_a_refused_login_leaks_the_secret_nowhere(sim: Simulator, write: Writer) -> None:
    """A wrong secret (sent in the login frame) is in no log line, metric or page part."""
    secret = "marked-secret-7f3a91"
    daemon, clock, path = daemon_for(sim, write, enabled=True)
    await daemon.stop()
    path.write_text(
        path.read_text().replace("secret_key: demo-secret-key", f"secret_key: {secret}")
    )
    daemon = Daemon(load_config(path), clock=clock)
    with capture_logs() as logs:
        await daemon.start()
        await wait(
            clock,
            lambda: (
                (
                    daemon.self_registry.get_sample_value(
                        "watcher_source_push_reconnects_total",
                        {"source": "c", "reason": "login_failed"},
                    )
                    or 0
                )
                >= 2
            ),
        )
        page = json.dumps(render_parts(build_page(daemon, SampleRing())))
        exposition = generate_latest(daemon.registry).decode()
        await daemon.stop()
    assert "auth_error" in json.dumps(sim.state.summary())
    assert secret not in json.dumps(logs, default=str)
    assert secret not in page
    assert secret not in exposition
