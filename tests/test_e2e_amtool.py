"""The real amtool against the real daemon: alerts listed, silences added, queried, expired."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Writer
from tests.e2e import Simulator, need, sim_daemon

pytestmark = pytest.mark.e2e


async def amtool(url: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        need("amtool"),
        f"--alertmanager.url={url}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    # amtool warns that its version differs from the watcher's; that line is noise.
    text = "\n".join(
        line for line in out.decode().splitlines() if not line.startswith("Warning: amtool version")
    )
    return proc.returncode, text if proc.returncode == 0 else text + err.decode()


async def test_amtool_silences_a_firing_alert_of_a_running_daemon(
    sim: Simulator, write: Writer
) -> None:
    """amtool sees the firing alert, silences it (then listed as silenced), queries and expires it."""
    need("amtool")
    write(
        "rules/r.yaml",
        "groups:\n  - name: g\n    rules:\n"
        "      - {alert: KycNeeded, expr: 'coinw_mega_coupon_kyc_required == 1', labels: {severity: critical}}\n",
    )
    daemon = sim_daemon(
        write,
        sim.url,
        "rule_files: [rules/*.yaml]\nroute: {receiver: quiet, group_wait: 1h}\n"
        "receivers: [{name: quiet, console_configs: [{}]}]\n",
        statuses="[unused]",
        interval="2s",
    )
    await daemon.start()
    url = daemon.base
    try:
        await daemon.wait_for(
            lambda m: m.get('watcher_alerts{alertname="KycNeeded",state="firing"}') == 1.0
        )
        code, out = await amtool(url, "alert", "query", "-o", "extended")
        assert 0 == code, out
        assert "KycNeeded" in out
        assert 'coupon_id="800000002"' in out

        code, silence_id = await amtool(
            url,
            "silence",
            "add",
            "alertname=KycNeeded",
            "--comment=KYC in progress",
            "--duration=2h",
            "--author=ops",
        )
        assert 0 == code, silence_id
        silence_id = silence_id.strip()
        code, out = await amtool(url, "silence", "query", "-q")
        assert (0, silence_id) == (code, out.strip())
        code, out = await amtool(url, "alert", "query", "--silenced", "-o", "extended")
        assert 0 == code
        assert "KycNeeded" in out

        code, out = await amtool(url, "silence", "expire", silence_id)
        assert 0 == code, out
        code, out = await amtool(url, "silence", "query", "-q")
        assert (0, "") == (code, out.strip())
        assert 0 == await daemon.terminate()
    finally:
        await daemon.kill()
