"""``watcher demo``: the simulator and the daemon in one process, narrated on the console.

The bundled ``demo.yaml`` loads the shipped rules (``rules/`` is copied here); every upstream is
the built-in simulator, whose URL and published demo credentials go into the environment the
config is expanded with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import structlog
from aiohttp import web

from watcher.app import DAEMON, Daemon
from watcher.config import Config, Secret, SlackConfig
from watcher.demo.narrate import TICK, Narrator, View
from watcher.durations import format_duration
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY

log = structlog.get_logger()
DEMO_CONFIG = Path(__file__).parent / "demo.yaml"
#: The coupon the hint uses up: the simulator's coupon that expires within days.
HINT_COUPON = 800000001


def demo_env(url: str, listen: str, sim_url: str, state: Path) -> dict[str, str]:
    """The environment ``demo.yaml`` is expanded with: the daemon's ``listen`` and ``url``."""
    return {
        **os.environ,
        "WATCHER_SIM_URL": sim_url,
        "WATCHER_SIM_WS_URL": "ws" + sim_url.removeprefix("http") + "/perpum",
        "WATCHER_SIM_API_KEY": DEMO_API_KEY,
        "WATCHER_SIM_SECRET_KEY": DEMO_SECRET_KEY,
        "WATCHER_DEMO_LISTEN": listen,
        "WATCHER_DEMO_URL": url,
        "WATCHER_DEMO_STATE": str(state / "state.db"),
    }


def with_slack(config: Config, url: str) -> Config:
    """The demo config with a Slack incoming webhook beside the console receiver."""
    receivers = tuple(
        replace(r, slack_configs=(SlackConfig(api_url=Secret(url), send_resolved=True),))
        for r in config.receivers
    )
    return replace(config, receivers=receivers)


def local_url(host: str, port: int) -> str:
    """A URL for ``host:port`` a browser on this machine can open."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Console:
    """The demo's lines on the user stream, each with the time since start: ``[demo +12s] ...``."""

    def __init__(self, out: TextIO, *, quiet: bool) -> None:
        self._out = out
        self._quiet = quiet
        self._start = time.monotonic()

    def say(self, text: str) -> None:
        """Print one narrated line (nothing with --quiet)."""
        if self._quiet:
            return
        elapsed = time.monotonic() - self._start
        self._out.write(f"[demo +{elapsed:.0f}s] {text}\n")
        self._out.flush()


def intro(daemon: Daemon, sim_url: str, state: str, daemon_url: str) -> list[str]:
    """What the demo says once it is up: where things are, what will happen, how to poke it."""
    config, groups = daemon.config, daemon.rules.groups
    holds = sorted({r.hold for g in groups for r in g.alerting if r.hold})
    wait = config.route.group_wait if config.route is not None else 0.0
    sources = ", ".join(f"{s.name} every {format_duration(s.interval)}" for s in config.sources)
    rules = sum(len(g.alerting) for g in groups)
    files = len({g.file for g in groups})
    hold_text = " or ".join(format_duration(h) for h in holds) or "no time"
    return [
        f"simulator of the CoinW and TradeBoss APIs at {sim_url}; state in {state}",
        f"daemon at {daemon_url}/ (status page), {daemon_url}/metrics, {daemon_url}/api/v2/alerts",
        f"polling {len(config.sources)} sources: {sources}",
        f"loaded {rules} alerting rules from {files} files; an alert stays pending for its "
        f"rule's 'for' ({hold_text}) before it fires, then the route waits group_wait "
        f"({format_duration(wait)}) before the first notification",
        f"make something happen: curl -XPOST {sim_url}/_sim/coupons/{HINT_COUPON} "
        """-d '{"type":2,"currentAmount":0}'   (uses up the coupon: its alert clears)""",
    ]


def view_of(daemon: Daemon) -> View:
    """One look at the daemon's public state, for the narrator."""
    holds = {(g.name, r.name): r.hold for g in daemon.rules.groups for r in g.alerting}
    return View(
        now=daemon.clock.time(),
        runners=dict(daemon.runners),
        alerts=daemon.rules.active(),
        families=list(daemon.registry.collect()),
        holds=holds,
    )


def narration_ctx(
    console: Console, lines: Callable[[Daemon], list[str]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that says the intro, then narrates until shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        daemon = app[DAEMON]
        for line in lines(daemon):
            console.say(line)
        route = daemon.config.route
        narrator = Narrator(console.say, route.group_wait if route is not None else 0.0)

        async def loop() -> None:
            while True:
                try:
                    narrator.observe(view_of(daemon))
                except Exception:  # narration must never take the demo down
                    log.exception("demo.narration_failed")
                await daemon.clock.sleep(TICK)

        task = asyncio.create_task(loop(), name="demo-narration")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
