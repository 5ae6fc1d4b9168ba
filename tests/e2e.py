"""Helpers for end-to-end tests: the simulator in-process, the daemon as a subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
import pytest
from aiohttp import web

from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, SimState, create_app, default_coupons
from watcher.simulator.coinw import STATE

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


T = TypeVar("T")


async def poll_until(
    fetch: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout: float,
    every: float,
    failed: Callable[[T | None], str],
) -> T:
    """``fetch()`` every ``every`` seconds until ``done`` holds for what it returned; a
    connection error is one more try. After ``timeout`` seconds fail with ``failed(last)``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = await fetch()
            if done(last):
                return last
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(every)
    raise AssertionError(failed(last))


def need(tool: str) -> str:
    """Path of ``tool``; skip when missing, except in CI where it must be installed."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is not installed (scripts/install-deps installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


def served_from(root: Path, port: int) -> str:
    """A daemon config's ``server`` and ``storage``: 127.0.0.1:``port``, state in ``root``."""
    return f'server: {{listen: "127.0.0.1:{port}"}}\nstorage: {{path: {root}/state.db}}\n'


def sim_coupons(url: str, name: str = "sim", *, secret: str = DEMO_SECRET_KEY, **keys: str) -> str:
    """A ``sources:`` item polling the simulator's Mega Coupons at ``url`` with the demo API
    key (and ``secret``), then ``keys`` as YAML (``interval="1s"``)."""
    rest = "".join(f"    {key}: {value}\n" for key, value in keys.items())
    return (
        f"  - name: {name}\n    type: coinw_mega_coupon\n    base_url: {url}\n"
        f"    api_key: {DEMO_API_KEY}\n    secret_key: {secret}\n{rest}"
    )


class Files(Protocol):
    """Writes a test's files into its folder ``root`` (conftest's ``write`` fixture)."""

    root: Path

    def __call__(self, name: str, text: str) -> Path: ...


def sim_daemon(write: Files, sim_url: str, rest: str, **source: str) -> Daemon:
    """A daemon (not started yet) on a free port whose one source is :func:`sim_coupons`
    (with ``source``'s keys), ``rest`` being the rest of its ``watcher.yaml``."""
    port = free_port()
    text = f"{served_from(write.root, port)}sources:\n{sim_coupons(sim_url, **source)}{rest}"
    return Daemon(write("watcher.yaml", text), port)


class Simulator:
    """The simulator app served on 127.0.0.1 inside the test's event loop."""

    def __init__(self) -> None:
        self.state = SimState(coupons=default_coupons())
        self.app = create_app(self.state)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.url = ""

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        assert self.app[STATE] is self.state

    async def stop(self) -> None:
        await self.runner.cleanup()


class Daemon:
    """``python -m watcher run -c CONFIG`` as a child process."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None
        self.base = f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "watcher",
            "--log-format",
            "json",
            "run",
            "-c",
            str(self.config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
        )

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(self.base + path) as r:
            return r.status, await r.text()

    async def post(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.post(self.base + path) as r:
            return r.status, await r.text()

    async def metrics(self) -> dict[str, float]:
        """/metrics as {'name{labels}': value} (label order as exposed)."""
        _, text = await self.get("/metrics")
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    async def wait_for(
        self, predicate: Callable[[dict[str, float]], bool], timeout: float = 30.0
    ) -> dict[str, float]:
        """Poll /metrics until ``predicate`` holds (bounded by ``timeout``)."""

        async def scrape() -> dict[str, float]:
            assert self.proc is not None
            if self.proc.returncode is not None:
                msg = f"daemon exited with {self.proc.returncode}: {await self.stderr()}"
                raise AssertionError(msg)
            return await self.metrics()

        def failed(last: dict[str, float] | None) -> str:
            return f"condition not met within {timeout}s; last metrics: {sorted(last or {})[:50]}"

        return await poll_until(scrape, predicate, timeout, 0.2, failed)

    async def evaluations_later(self, n: float, timeout: float = 60.0) -> dict[str, float]:
        """Wait until the daemon has evaluated its rules ``n`` more times.

        Proves "nothing more was sent" in the daemon's own time: every evaluation hands the
        alerts to the dispatcher, so once enough of them have passed, whatever the daemon would
        send has been sent, however slow the machine is (a fixed sleep races it instead).
        """
        key = "watcher_rule_evaluation_duration_seconds_count"
        start = (await self.wait_for(lambda m: key in m)).get(key, 0.0)
        return await self.wait_for(lambda m: m.get(key, 0.0) >= start + n, timeout)

    async def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stderr(self) -> str:
        assert self.proc is not None
        assert self.proc.stderr is not None
        if self.proc.returncode is None:
            return ""
        return (await self.proc.stderr.read()).decode(errors="replace")


class Sink:
    """An incoming-webhook stand-in: answers from a script of statuses, then 200; logs posts."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.down = False
        self.posts: list[tuple[float, int, dict[str, Any]]] = []
        app = web.Application()
        app.router.add_post("/hook", self.hook)
        self.runner = web.AppRunner(app, access_log=None)
        self.url = ""

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        status = 500 if self.down else (self.script.pop(0) if self.script else 200)
        self.posts.append((time.monotonic(), status, body))
        return web.Response(status=status, text="ok" if status == 200 else "oops")

    def delivered(self) -> list[dict[str, Any]]:
        return [body for _, status, body in self.posts if status == 200]

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        await self.runner.cleanup()


class Service(Protocol):
    """Something a test starts and stops: the :class:`Simulator`, a :class:`Sink`."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@asynccontextmanager
async def running(*services: Service) -> AsyncIterator[None]:
    """Start ``services`` in order for the block; stop those started, in reverse, however it
    ends."""
    async with AsyncExitStack() as stack:
        for service in services:
            await service.start()
            stack.push_async_callback(service.stop)
        yield


async def until(predicate: Any, timeout: float, what: str) -> None:
    """Wait until ``predicate()`` holds, checking every 0.1 s; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    msg = f"timed out after {timeout}s waiting for {what}"
    raise AssertionError(msg)
