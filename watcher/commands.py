"""What each CLI command does, once argv is parsed and logging configured."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import generate_latest

from watcher.app import Daemon, build_app
from watcher.config import Config, Secret, SlackConfig, load_config
from watcher.config.load import parse_listen
from watcher.errors import ConfigError
from watcher.rules import check_rule_files, run_rule_tests
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, create_app
from watcher.webconfig import WebState, load_web_config

log = structlog.get_logger()
DEMO_CONFIG = Path(__file__).parent / "demo" / "demo.yaml"


def check(path: str) -> int:
    """Validate the config and every rule file; print every problem; 0 valid, 1 invalid."""
    config = load_config(path)
    problems = check_rules(config)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"{path}: OK ({len(config.sources)} sources, {len(config.rule_paths())} rule files)")
    return 0


def check_rules(config: Config) -> list[str]:
    """Problems in the rule files the config names (and globs that match nothing)."""
    unmatched = [
        f"{config.file}: rule_files: {pattern!r} matches no file"
        for pattern in config.rule_files
        if not config.rule_glob(pattern)
    ]
    return unmatched + check_rule_files(config.rule_paths())


def run(path: str, web_config_file: str | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; exit 0 on a clean shutdown.

    ``web_config_file`` (``--web.config.file``) overrides ``server.web_config_file``.
    """

    def adjust(config: Config) -> Config:
        if not web_config_file:
            return config
        server = replace(config.server, web_config_file=os.path.abspath(web_config_file))
        return replace(config, server=server)

    config = adjust(load_config(path))
    for warning in config.warnings:
        log.warning("config.warning", message=warning)
    web_state = WebState(load_web_config(config.server.web_config_file))
    log.info(
        "web.config",
        tls=web_state.config.ssl is not None,
        basic_auth=bool(web_state.config.users),
    )

    async def make() -> web.Application:
        return build_app(Daemon(config, adjust=adjust, web_state=web_state))

    return _serve(make(), config, web_state.listening_context())


def _serve(
    app: Coroutine[Any, Any, web.Application],
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Serve until a signal; a listener that cannot bind is a one-line error, exit 1."""
    try:
        web.run_app(
            app,
            host=config.server.host,
            port=config.server.port,
            handle_signals=True,
            ssl_context=ssl_context,
            print=None,
            access_log=None,
        )
    except OSError as exc:
        where = f"{config.server.host}:{config.server.port}"
        print(
            f"{config.file}: server.listen: cannot listen on {where}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


def demo(listen: str, state_dir: str | None, slack_url: str | None = None) -> int:
    """Run the simulator and the daemon in one process with the bundled demo config."""
    sim_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sim_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sim_sock.bind(("127.0.0.1", 0))
    sim_port = sim_sock.getsockname()[1]
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="watcher-demo-"))
    env = {
        **os.environ,
        "WATCHER_SIM_URL": f"http://127.0.0.1:{sim_port}",
        "WATCHER_SIM_API_KEY": DEMO_API_KEY,
        "WATCHER_SIM_SECRET_KEY": DEMO_SECRET_KEY,
        "WATCHER_DEMO_LISTEN": listen,
        "WATCHER_DEMO_STATE": str(state / "state.db"),
    }

    def adjust(config: Config) -> Config:
        return _with_slack(config, slack_url) if slack_url else config

    config = adjust(load_config(DEMO_CONFIG, env))

    async def simulator_ctx(_app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sim_sock).start()
        host = "127.0.0.1" if config.server.host in ("0.0.0.0", "") else config.server.host
        print(
            f"watcher demo: simulator at http://127.0.0.1:{sim_port}, state in {state}", flush=True
        )
        print(
            f"watcher demo: metrics at http://{host}:{config.server.port}/metrics, "
            f"status page at http://{host}:{config.server.port}/",
            flush=True,
        )
        yield
        await runner.cleanup()

    async def make() -> web.Application:
        app = build_app(Daemon(config, env=env, adjust=adjust))
        app.cleanup_ctx.insert(0, simulator_ctx)
        return app

    return _serve(make(), config)


def _with_slack(config: Config, url: str) -> Config:
    """The demo config with a Slack incoming webhook beside the console receiver."""
    receivers = tuple(
        replace(r, slack_configs=(SlackConfig(api_url=Secret(url), send_resolved=True),))
        for r in config.receivers
    )
    return replace(config, receivers=receivers)


async def once(path: str, *, send: bool) -> int:
    """Poll every source once, print the metrics and the alerts that would fire.

    Nothing is sent unless ``send``; either way the state lives in memory, so a one-off run
    never touches a running daemon's alert state, notification log or outbox.
    """
    config = load_config(path)
    daemon = Daemon(config, storage_path=":memory:", deliver=send)
    try:
        daemon.make_runners()
        results = await asyncio.gather(*(r.poll_once() for r in daemon.runners.values()))
        await daemon.evaluate()
        sys.stdout.write(generate_latest(daemon.registry).decode())
        # Pending alerts too: with `for:` a single evaluation can only start the timer.
        for alert in daemon.active_alerts():
            labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
            print(f"# ALERT {alert.state} {alert.name} {{{labels}}} value={alert.value:g}")
        if send:
            await daemon.dispatcher.flush_now()
    finally:
        await daemon.stop()
    return 0 if all(results) else 1


def simulate(listen: str) -> int:
    """Serve only the simulator."""
    parsed = parse_listen(listen)
    if parsed is None:
        msg = f"--listen: expected host:port like 127.0.0.1:9800, got {listen!r}"
        raise ConfigError([msg])
    host, port = parsed
    print(
        f"watcher simulate: serving on http://{host or '127.0.0.1'}:{port} "
        f"(api_key {DEMO_API_KEY!r}, secret_key {DEMO_SECRET_KEY!r})",
        flush=True,
    )
    web.run_app(create_app(), host=host, port=port, print=None, access_log=None)
    return 0


def rules_test(files: list[str]) -> int:
    """Run rule unit tests in promtool's format."""
    return run_rule_tests(files, sys.stdout)
