"""Shared benchmark helpers: repeats, min/median/max, and one table format for every bench."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Every figure is measured this many times; the table shows min / median / max.
REPEATS = 3


@dataclass(frozen=True)
class Spread:
    """min / median / max of repeated measurements."""

    low: float
    mid: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise ``values``."""
        return cls(min(values), statistics.median(values), max(values))

    def scaled(self, factor: float) -> Spread:
        """The same spread in other units (seconds to ms: 1e3)."""
        return Spread(self.low * factor, self.mid * factor, self.high * factor)

    def __str__(self) -> str:
        return f"{self.low:.3g}/{self.mid:.3g}/{self.high:.3g}"


def timed(fn: Callable[[], object], repeats: int = REPEATS) -> Spread:
    """Seconds per call of ``fn``, ``repeats`` times."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return Spread.of(out)


def timed_both(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[Spread, Spread]:
    """(wall seconds, CPU seconds of this process) per call of ``fn``, ``repeats`` times.

    On a shared machine the wall time includes waiting for a core; the CPU time does not.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Spread.of(wall), Spread.of(cpu)


def ratio(figure: Spread, baseline: Spread) -> str:
    """Median figure / median baseline."""
    return f"{figure.mid / baseline.mid:.2f}x" if baseline.mid else "n/a"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (Markdown pipe syntax, so it pastes into RESULTS.md)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"## {title}", "", f"load average {load} on {os.cpu_count()} CPUs", ""]
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n\n"


@contextlib.contextmanager
def fake_upstream(coupons: int = 0) -> Iterator[dict[str, str]]:
    """Run ``bench.fake_upstream`` in a child process; yield its URLs; stop it after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_upstream", "--coupons", str(coupons)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = json.loads(proc.stdout.readline())
        yield urls
    finally:
        proc.terminate()
        proc.wait(10)


def tradeboss_yaml(url: str, accounts: int, *, extra: str = "", port: int = 0) -> str:
    """A config with one TradeBoss source of ``accounts`` accounts (concurrency 8)."""
    rows = "".join(
        f'      - {{third_server_code: tsc-{i % 7}, user_name: "{86_000_000 + i}", currency: HKD}}\n'
        for i in range(accounts)
    )
    return (
        f'server: {{listen: "127.0.0.1:{port}"}}\n'
        "sources:\n  - name: wallet\n    type: tradeboss_balance\n"
        f"    base_url: {url}\n    company_id: 1\n"
        '    headers: {Authorization: "Bearer bench-token"}\n'
        f"    interval: 10m\n    timeout: 30s\n    concurrency: 8\n    accounts:\n{rows}{extra}"
    )
