"""What each CLI command does, once argv is parsed and logging configured."""

from __future__ import annotations

import asyncio
import os
import shutil
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

from watcher import DEFAULT_PORT
from watcher.app import Daemon, build_app
from watcher.config import Config, load_config, parse_listen
from watcher.demo import (
    DEMO_CONFIG,
    Console,
    demo_env,
    intro,
    local_url,
    narration_ctx,
    with_slack,
)
from watcher.errors import ConfigError
from watcher.logs import user_stream
from watcher.rules import check_rule_files, load_rule_files, run_rule_tests
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, create_app
from watcher.webconfig import WebState, load_web_config
from watcher.yamlpos import Located, load_located

log = structlog.get_logger()


def check(path: str, *, strict: bool = False) -> int:
    """Validate the config and every rule file; print every problem; 0 valid, 1 invalid.

    A config without sources or without rules is valid but does nothing: a warning, which
    ``strict`` turns into a failure.
    """
    config = load_config(path)
    problems = check_rules(config)
    warnings = [*config.warnings, *_emptiness(config, problems)]
    problems += check_web_config(config)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    if strict and warnings:
        print(f"{path}: {len(warnings)} warning(s), an error with --strict", file=sys.stderr)
        return 1
    print(f"{path}: OK ({len(config.sources)} sources, {len(config.rule_paths())} rule files)")
    return 0


def check_web_config(config: Config) -> list[str]:
    """Problems in ``server.web_config_file`` (TLS files included); none when it is unset."""
    try:
        load_web_config(config.server.web_config_file)
    except ConfigError as exc:
        return exc.problems
    return []


def check_rules(config: Config) -> list[str]:
    """Problems in the rule files the config names (and globs that match nothing)."""
    doc = _located(config)
    unmatched = [
        f"{doc.where(('rule_files', i))}: {pattern!r} matches no file"
        for i, pattern in enumerate(config.rule_files)
        if not config.rule_glob(pattern)
    ]
    return unmatched + check_rule_files(config.rule_paths())


def _located(config: Config) -> Located:
    """The config file's YAML with the line of every key (it was just read and validated)."""
    doc, _ = load_located(config.file.read_text(encoding="utf-8"), str(config.file))
    return doc if doc is not None else Located(None, str(config.file))


def _emptiness(config: Config, problems: list[str]) -> list[str]:
    """Warnings for a config that polls nothing or can never alert."""
    doc = _located(config)
    out = []
    if not config.sources:
        out.append(f"{doc.where(('sources',))}: none, so nothing is polled")
    if not problems and not any(g.alerting for g in load_rule_files(config.rule_paths())):
        out.append(f"{doc.where(('rule_files',))}: no alerting rules, so nothing can ever alert")
    return out


def run(path: str, web_config_file: str | None = None, *, json_console: bool = False) -> int:
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
    try:
        sock = listen_socket(config.server.host, config.server.port)
    except OSError as exc:
        where = f"{config.server.host}:{config.server.port}"
        msg = f"{config.file}: server.listen: cannot listen on {where}: {exc.strerror}"
        raise ConfigError([msg]) from None
    console = user_stream(json_lines=json_console, event="notification")

    async def make() -> web.Application:
        return build_app(Daemon(config, console=console, adjust=adjust, web_state=web_state))

    return _serve(make(), sock, web_state.listening_context())


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind a listener before anything starts, so a taken port is the first and only output."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As aiohttp does on POSIX: a restart binds again without waiting for TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _serve(
    app: Coroutine[Any, Any, web.Application],
    sock: socket.socket,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """Serve on ``sock`` until SIGTERM/SIGINT (both shut down cleanly: exit 0)."""
    try:
        web.run_app(
            app,
            sock=sock,
            ssl_context=ssl_context,
            handle_signals=True,
            print=None,
            access_log=None,
        )
    finally:
        sock.close()
    return 0


def demo(
    listen: str,
    state_dir: str | None,
    slack_url: str | None = None,
    *,
    quiet: bool = False,
    json_console: bool = False,
) -> int:
    """Run the simulator and the daemon in one process with the bundled demo config.

    A temporary state folder is removed on exit; one given with ``--state`` is kept.
    """
    host, port = _listen_arg(listen, f"127.0.0.1:{DEFAULT_PORT}")
    try:
        sock = listen_socket(host, port)
    except OSError as exc:
        msg = (
            f"--listen: cannot listen on {host}:{port}: {exc.strerror}; "
            f"try another port, e.g. watcher demo --listen 127.0.0.1:{port + 1}"
        )
        raise ConfigError([msg]) from None
    sim_sock = listen_socket("127.0.0.1", 0)
    sim_url = f"http://127.0.0.1:{sim_sock.getsockname()[1]}"
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="watcher-demo-"))
    daemon_url = local_url(host, sock.getsockname()[1])
    env = demo_env(daemon_url, f"{host}:{sock.getsockname()[1]}", sim_url, state)
    narration = Console(user_stream(json_lines=json_console, event="demo"), quiet=quiet)
    alerts = user_stream(json_lines=json_console, event="notification")

    def adjust(config: Config) -> Config:
        return with_slack(config, slack_url) if slack_url else config

    async def simulator_ctx(_app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sim_sock).start()
        yield
        await runner.cleanup()

    def lines(daemon: Daemon) -> list[str]:
        where = str(state) if state_dir else f"{state} (removed on exit)"
        return intro(daemon, sim_url, where, daemon_url)

    try:
        config = adjust(load_config(DEMO_CONFIG, env))

        async def make() -> web.Application:
            app = build_app(Daemon(config, env=env, adjust=adjust, console=alerts))
            app.cleanup_ctx.insert(0, simulator_ctx)
            app.cleanup_ctx.append(narration_ctx(narration, lines))
            return app

        return _serve(make(), sock)
    finally:
        sock.close()
        sim_sock.close()
        if not state_dir:
            shutil.rmtree(state, ignore_errors=True)


def _listen_arg(listen: str, example: str) -> tuple[str, int]:
    """``--listen HOST:PORT`` parsed, or a one-line error."""
    parsed = parse_listen(listen)
    if parsed is None:
        msg = f"--listen: expected host:port like {example}, got {listen!r}"
        raise ConfigError([msg])
    return parsed


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
        for alert in daemon.rules.active():
            labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
            print(f"# ALERT {alert.state} {alert.alertname} {{{labels}}} value={alert.value:g}")
        if send:
            await daemon.dispatcher.flush_now()
    finally:
        await daemon.stop()
    return 0 if all(results) else 1


def simulate(listen: str) -> int:
    """Serve only the simulator."""
    host, port = _listen_arg(listen, "127.0.0.1:9800")
    try:
        sock = listen_socket(host, port)
    except OSError as exc:
        msg = f"--listen: cannot listen on {host}:{port}: {exc.strerror}"
        raise ConfigError([msg]) from None
    print(
        f"watcher simulate: serving on {local_url(host, sock.getsockname()[1])} "
        f"(api_key {DEMO_API_KEY!r}, secret_key {DEMO_SECRET_KEY!r})",
        flush=True,
    )

    async def make() -> web.Application:
        return create_app()

    return _serve(make(), sock)


def rules_test(files: list[str]) -> int:
    """Run rule unit tests in promtool's format."""
    return run_rule_tests(files, sys.stdout)
