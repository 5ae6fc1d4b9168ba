"""`watcher demo`: the README's first command serves valid metrics from the simulator."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time

import aiohttp
import pytest

from tests.e2e import ROOT, free_port

pytestmark = pytest.mark.e2e


def need(tool: str) -> str:
    """Path of ``tool``; skip when missing, except in CI where it must be installed."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is not installed (scripts/install-deps installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


async def test_demo_serves_coupon_metrics_that_promtool_accepts() -> None:
    """The demo's /metrics has coupon series, passes `promtool check metrics`, and SIGTERM exits 0."""
    promtool = need("promtool")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watcher",
        "demo",
        "--listen",
        f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=str(ROOT),
    )
    try:
        text = ""
        deadline = time.monotonic() + 40
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/-/ready") as ready:
                        if ready.status == 200:
                            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                                text = await resp.text()
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.3)
        assert "coinw_mega_coupon_remaining_amount{" in text
        assert 'watcher_source_up{source="coinw-demo"} 1.0' in text
        check = await asyncio.create_subprocess_exec(
            promtool,
            "check",
            "metrics",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await check.communicate(text.encode())
        assert (0, b"") == (check.returncode, output)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
    assert code == 0
    stdout = (await proc.stdout.read()).decode() if proc.stdout else ""
    assert f"metrics at http://127.0.0.1:{port}/metrics" in stdout


def test_demo_ships_the_same_rules_as_rules_folder() -> None:
    """The demo (and the installed package) carry exactly the shipped rules/ files."""
    shipped = {p.name: p.read_text() for p in (ROOT / "rules").glob("*.yaml")}
    packaged = {p.name: p.read_text() for p in (ROOT / "watcher" / "demo" / "rules").glob("*.yaml")}
    assert shipped == packaged
