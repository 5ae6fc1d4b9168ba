"""`watcher demo`: the README's first command serves valid metrics from the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.e2e import ROOT, free_port, need

pytestmark = pytest.mark.e2e


class Demo:
    """``python -m watcher demo ARGS`` as a child process; stdout lines kept with their time."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[tuple[float, str]] = []
        self.started = 0.0
        self._seen = 0
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "watcher",
            "demo",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=str(ROOT),
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode().rstrip("\n")))

    async def expect(
        self, pattern: str, since: float, within: float
    ) -> tuple[float, re.Match[str]]:
        """The next line (after the previous match) matching ``pattern``, said by since+within."""
        regex = re.compile(pattern)
        while True:
            for i in range(self._seen, len(self.lines)):
                at, line = self.lines[i]
                if (m := regex.search(line)) is not None:
                    self._seen = i + 1
                    assert at - since <= within, f"{line!r} after {at - since:.1f}s > {within}s"
                    return at, m
            if time.monotonic() - since > within:
                said = "\n".join(line for _, line in self.lines)
                msg = f"no line like {pattern!r} within {within}s; said:\n{said}"
                raise AssertionError(msg)
            await asyncio.sleep(0.1)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 20)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    async def stderr(self) -> str:
        assert self.proc is not None
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()


#: The demo's coupon source polls every 15 s (demo.yaml).
POLL = 15.0


async def test_demo_narrates_polls_pending_alerts_and_the_hint_in_order() -> None:
    """The demo says where it is and what it loaded, then each source polled and each alert
    pending with the time it fires, within one poll interval; the hint's curl clears the coupon
    alert within the next poll; SIGTERM exits 0 and removes the temporary state folder."""
    port = free_port()
    demo = Demo("--listen", f"127.0.0.1:{port}")
    await demo.start()
    try:
        _, first = await demo.expect(r"state in (\S+) \(removed on exit\)", demo.started, 30)
        state = Path(first.group(1))
        assert await asyncio.to_thread(state.is_dir)
        up, _ = await demo.expect(rf"daemon at http://127\.0\.0\.1:{port}/ ", demo.started, 30)
        await demo.expect(r"polling 3 sources: coinw-demo every 15s", up, 1)
        await demo.expect(r"loaded 12 alerting rules from 3 files", up, 1)
        _, hint = await demo.expect(r"make something happen: curl -XPOST (\S+) -d '(.*)'", up, 1)
        await demo.expect(r"polled coinw-demo: \d+ series", up, POLL)
        _, pending = await demo.expect(
            r"MegaCouponExpiringSoon\{coupon_id=800000001, source=coinw-demo, status=unused\}"
            r" pending, fires in (\d+) s unless it clears",
            up,
            POLL,
        )
        assert 45 <= int(pending.group(1)) <= 60
        async with (
            aiohttp.ClientSession() as session,
            session.post(hint.group(1), data=hint.group(2)) as resp,
        ):
            assert 200 == resp.status
        poked = time.monotonic()
        await demo.expect(
            r"MegaCouponExpiringSoon\{coupon_id=800000001, .*\} cleared", poked, 2 * POLL
        )
    finally:
        code = await demo.stop()
    assert 0 == code
    assert not await asyncio.to_thread(state.exists)
    assert all(line.startswith("[demo +") for _, line in demo.lines)
    assert "[demo" not in await demo.stderr()


async def test_demo_serves_coupon_metrics_that_promtool_accepts(tmp_path: Path) -> None:
    """The demo's /metrics has coupon series and passes `promtool check metrics`; with --quiet
    nothing is narrated; a --state folder is kept; SIGTERM exits 0."""
    promtool = need("promtool")
    port = free_port()
    demo = Demo("--listen", f"127.0.0.1:{port}", "--quiet", "--state", str(tmp_path))
    await demo.start()
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
        code = await demo.stop()
    assert code == 0
    assert [] == demo.lines
    assert await asyncio.to_thread((tmp_path / "state.db").is_file)


def test_demo_ships_the_same_rules_as_rules_folder() -> None:
    """The demo (and the installed package) carry exactly the shipped rules/ files."""
    shipped = {p.name: p.read_text() for p in (ROOT / "rules").glob("*.yaml")}
    packaged = {p.name: p.read_text() for p in (ROOT / "watcher" / "demo" / "rules").glob("*.yaml")}
    assert shipped == packaged
