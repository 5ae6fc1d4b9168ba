"""The benchmarks keep working: every one runs at its small size (no timing is asserted)."""

from __future__ import annotations

import pytest

from bench import run_all

pytestmark = pytest.mark.e2e


def test_every_benchmark_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    """`bench/run_all.py --small` exits 0 and prints each benchmark's table."""
    assert 0 == run_all.main(["--small"])
    out = capsys.readouterr().out
    for title in (
        "## Polling: TradeBoss source vs bare aiohttp",
        "## /metrics, OpenMetrics + gzip",
        "## Rule evaluation, shipped rules",
        "## Start to ready",
        "## Resident memory",
        "## Rate-limit fidelity",
        "## Time to page a new Mega Coupon",
        "## Sample history: bytes per sample",
        "## Sample history: query latency",
        "## Alert latency, change at the simulator to page at the sink",
    ):
        assert title in out
    assert "| 10 accounts + 10 coupons |" in out
