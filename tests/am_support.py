"""A real ``prometheus-alertmanager`` on 127.0.0.1 for differential tests.

The differential tests send the same alerts to Alertmanager and to the watcher and compare
what comes out (fingerprints, group keys, payloads). Alertmanager is another process, so
waiting for it is a bounded poll, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
_MISSING = pytest.mark.skipif(
    BINARY is None and os.environ.get("CI") != "true",
    reason="prometheus-alertmanager is not installed",
)
AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None and os.environ.get("CI") != "true", reason="amtool is not installed"
)


F = TypeVar("F", bound=Callable[..., Any])


def needs_alertmanager(fn: F) -> F:
    """Mark a test as running the real Alertmanager binary (skipped when absent, not in CI)."""
    marked: F = pytest.mark.external(_MISSING(fn))
    return marked


def free_port() -> int:
    """A port nothing listens on right now (Alertmanager cannot report an OS-picked one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def run_alertmanager(tmp_path: Path, config_text: str, *flags: str) -> AsyncIterator[str]:
    """Start Alertmanager with ``config_text`` (and ``flags``); yield its URL once ready."""
    assert BINARY is not None
    config = tmp_path / "alertmanager.yml"
    config.write_text(config_text)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        BINARY,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        *flags,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(150):
                try:
                    async with s.get(f"{url}/-/ready") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("alertmanager did not become ready")
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


async def run_amtool(*args: str) -> tuple[int, str]:
    """Run the real amtool with ``args``; return its exit code and standard output (and its
    standard error on failure: on success it only warns that its version is not ours)."""
    assert AMTOOL is not None
    proc = await asyncio.create_subprocess_exec(
        AMTOOL, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    code = proc.returncode or 0
    return code, out.decode() if code == 0 else out.decode() + err.decode()


def check_config(file: Path) -> tuple[int, str]:
    """``amtool check-config file`` (the test is skipped without amtool): its exit code and
    output, to show Alertmanager's own loader accepting a file."""
    if AMTOOL is None:
        pytest.skip("amtool is not installed")
    done = subprocess.run(
        [AMTOOL, "check-config", str(file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


async def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    """POST ``alerts`` to Alertmanager's ``/api/v2/alerts``."""
    async with aiohttp.ClientSession() as s, s.post(f"{url}/api/v2/alerts", json=alerts) as resp:
        assert 200 == resp.status, await resp.text()


async def get_json(url: str) -> Any:
    """GET a JSON document."""
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        assert 200 == resp.status, await resp.text()
        return await resp.json()


async def poll(done: Callable[[], bool], seconds: float = 15.0) -> None:
    """Wait (bounded) until ``done()``; the other side is a separate process."""
    for _ in range(int(seconds * 20)):
        if done():
            return
        await asyncio.sleep(0.05)
    pytest.fail("timed out waiting for alertmanager")
