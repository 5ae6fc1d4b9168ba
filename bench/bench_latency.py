"""Alert latency side by side: the watcher alone against Prometheus + Alertmanager.

One state change at the simulator (a TradeBoss balance drops below the rule's threshold) to
the page at a Slack-shaped sink, measured for (a) ``watcher run`` polling the simulator,
evaluating the rule file and posting to Slack itself, and (b) a second ``watcher run`` that
only exports the same series, scraped by a real ``prometheus`` evaluating the same rule file
and sending to a real ``prometheus-alertmanager`` that posts to the same kind of sink. Each
system has its own simulator; both are changed at the same instant, so (a) and (b) of one
repeat see the same moment. Each repeat drops another account (its own alert group).

Cases: intervals matched (poll = scrape = evaluation interval, the same ``group_wait``), and
each system at its defaults (``--defaults``: the watcher's 60 s poll, Prometheus's 1 m scrape
and evaluation, 30 s ``group_wait`` in both). Figures: seconds from the change to the page;
for (a) also the page latency after the poll that saw the change, minus ``for`` and
``group_wait`` (goal <= 1 s), and the resident memory of (a) against the sum of (b)'s three
processes. Run: ``python -m bench.bench_latency [--small] [--defaults]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.bench_daemon import rss
from bench.common import REPEATS, ROOT, Spread, table
from tests.e2e import Simulator, free_port
from watcher.simulator.state import Balance

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
HIGH, LOW = Balance("5000.00", 2), Balance("10.00", 2)
RULES = """\
groups:
  - name: bench
    rules:
      - alert: AccountBalanceLow
        expr: tradeboss_account_balance < 1000
        for: 0s
        labels: {severity: critical}
        annotations:
          summary: "Balance of {{ $labels.user_name }} is {{ $value }}"
"""


@dataclass(frozen=True)
class Case:
    """Intervals of one row; None means the system's default."""

    name: str
    interval: str | None
    group_wait: str | None
    group_wait_s: float
    timeout: float


MATCHED = Case("matched: 2s poll/scrape/eval, group_wait 1s", "2s", "1s", 1.0, 30.0)
DEFAULTS = Case("defaults (60s poll, 1m scrape+eval, group_wait 30s)", None, None, 30.0, 240.0)


class SlackSink:
    """Incoming-webhook stand-in: every POST is logged with its arrival (wall clock)."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, str, str]] = []
        app = web.Application()
        app.router.add_post("/{who}", self.hook)
        self.runner = web.AppRunner(app, access_log=None)
        self.url = ""

    async def hook(self, request: web.Request) -> web.Response:
        """Log the post; answer like Slack."""
        self.posts.append((time.time(), request.match_info["who"], await request.text()))
        return web.Response(text="ok")

    def arrival(self, who: str, user: str, after: float) -> float | None:
        """When the first post to ``who`` naming ``user`` arrived after ``after``."""
        return next(
            (t for t, w, text in self.posts if w == who and t > after and user in text), None
        )


def accounts(n: int) -> list[tuple[str, str, str]]:
    """The simulator accounts (one dropped per repeat)."""
    return [("tsc-1", str(87_000_000 + i), "HKD") for i in range(n)]


def source(url: str, case: Case, n: int) -> str:
    """The TradeBoss source block both watchers use."""
    rows = "".join(
        f'      - {{third_server_code: {c}, user_name: "{u}", currency: {cur}}}\n'
        for c, u, cur in accounts(n)
    )
    interval = f"    interval: {case.interval}\n" if case.interval else ""
    return (
        f"sources:\n  - name: wallet\n    type: tradeboss_balance\n    base_url: {url}\n"
        f"    company_id: 1\n{interval}    accounts:\n{rows}"
    )


def route(case: Case, receiver: str) -> str:
    """The same route in watcher and Alertmanager syntax."""
    wait = f"  group_wait: {case.group_wait}\n" if case.group_wait else ""
    return (
        "route:\n  receiver: slack\n  group_by: [alertname, user_name]\n"
        f"{wait}  group_interval: 5m\n  repeat_interval: 4h\n"
        f"receivers:\n  - name: slack\n    slack_configs:\n"
        f'      - {{api_url: "{receiver}", channel: "#bench", send_resolved: false}}\n'
    )


async def _ready(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                msg = f"{what} exited with {proc.returncode}"
                raise RuntimeError(msg)
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    msg = f"{what} not ready within {timeout:.0f}s"
    raise RuntimeError(msg)


@contextlib.asynccontextmanager
async def spawn(argv: list[str], ready: str, what: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Run ``argv``; yield it once ``ready`` answers 200; terminate it after."""
    # A plain Popen: the benchmark only waits on it at the end, and its /proc entry gives RSS.
    proc = subprocess.Popen(  # noqa: ASYNC220
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await _ready(ready, proc, what, 60.0)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def watcher_argv(folder: Path, name: str, text: str) -> tuple[list[str], str]:
    """``watcher run`` on ``text`` (its listen port filled in); argv and its base URL."""
    port = free_port()
    path = folder / f"{name}.yaml"
    path.write_text(
        f'server: {{listen: "127.0.0.1:{port}"}}\nstorage: {{path: {folder}/{name}.db}}\n' + text
    )
    return [sys.executable, "-m", "watcher", "run", "-c", str(path)], f"http://127.0.0.1:{port}"


async def _series_in_prometheus(url: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            query = {"query": "tradeboss_account_balance"}
            async with session.get(f"{url}/api/v1/query", params=query) as resp:
                answer: dict[str, Any] = await resp.json()
            if len(answer.get("data", {}).get("result", [])) == n:
                return
            await asyncio.sleep(0.2)
    msg = f"prometheus had no {n} balance series within {timeout:.0f}s"
    raise RuntimeError(msg)


async def measure(case: Case, repeats: int) -> dict[str, list[float]]:
    """Run (a) and (b) side by side for ``repeats`` state changes."""
    assert PROMETHEUS is not None
    assert ALERTMANAGER is not None
    folder = Path(tempfile.mkdtemp(prefix="watcher-latency-"))
    (folder / "rules.yaml").write_text(RULES)
    sims = Simulator(), Simulator()
    sink = SlackSink()
    for sim in sims:
        sim.state.balances = dict.fromkeys(accounts(repeats), HIGH)
        await sim.start()
    await sink.runner.setup()
    await web.TCPSite(sink.runner, "127.0.0.1", 0).start()
    sink.url = f"http://127.0.0.1:{sink.runner.addresses[0][1]}"
    alone, alone_url = watcher_argv(
        folder,
        "alone",
        source(sims[0].url, case, repeats)
        + f"rule_files: [{folder}/rules.yaml]\n"
        + route(case, f"{sink.url}/a"),
    )
    exporter, exporter_url = watcher_argv(folder, "exporter", source(sims[1].url, case, repeats))
    am_port, prom_port = free_port(), free_port()
    (folder / "am.yml").write_text(route(case, f"{sink.url}/b"))
    interval = f"  scrape_interval: {case.interval}\n  evaluation_interval: {case.interval}\n"
    (folder / "prometheus.yml").write_text(
        "global:\n"
        + (interval if case.interval else "  {}\n")
        + f"rule_files: [{folder}/rules.yaml]\n"
        + "alerting:\n  alertmanagers:\n"
        + f'    - static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]\n'
        + "scrape_configs:\n  - job_name: watcher\n"
        + f'    static_configs: [{{targets: ["{exporter_url[7:]}"]}}]\n'
    )
    am_argv = [
        ALERTMANAGER,
        f"--config.file={folder / 'am.yml'}",
        f"--storage.path={folder / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]
    prom_argv = [
        PROMETHEUS,
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    prom_url = f"http://127.0.0.1:{prom_port}"
    out: dict[str, list[float]] = {"a": [], "b": [], "page": [], "rss_a": [], "rss_b": []}
    async with (
        spawn(alone, f"{alone_url}/-/ready", "watcher (a)") as proc_a,
        spawn(exporter, f"{exporter_url}/-/ready", "watcher exporter (b)") as proc_x,
        spawn(am_argv, f"http://127.0.0.1:{am_port}/-/ready", "alertmanager") as proc_am,
        spawn(prom_argv, f"{prom_url}/-/ready", "prometheus") as proc_prom,
    ):
        await _series_in_prometheus(prom_url, repeats, case.timeout)
        for account in accounts(repeats):
            changed = time.time()
            for sim in sims:
                sim.state.balances[account] = LOW
            user = account[1]
            deadline = time.monotonic() + case.timeout
            while time.monotonic() < deadline:
                a, b = sink.arrival("a", user, changed), sink.arrival("b", user, changed)
                if a is not None and b is not None:
                    break
                await asyncio.sleep(0.02)
            else:
                msg = f"{case.name}: no page for {user} within {case.timeout:.0f}s ({a=}, {b=})"
                raise RuntimeError(msg)
            seen = min(r.at for r in sims[0].state.requests if r.at >= changed)
            out["a"].append(a - changed)
            out["b"].append(b - changed)
            out["page"].append(a - seen - case.group_wait_s)
        out["rss_a"].append(rss(proc_a.pid)[0])
        out["rss_b"].append(sum(rss(p.pid)[0] for p in (proc_x, proc_am, proc_prom)))
        out["rss_parts"] = [rss(p.pid)[0] for p in (proc_x, proc_am, proc_prom)]
    await sink.runner.cleanup()
    for sim in sims:
        await sim.stop()
    return out


def run(cases: list[Case], repeats: int) -> str:
    """The tables for ``cases`` (a note instead when Prometheus or Alertmanager is missing)."""
    title = "Alert latency, change at the simulator to page at the sink (s, min/median/max)"
    if PROMETHEUS is None or ALERTMANAGER is None:
        return f"## {title}\n\nskipped: prometheus and prometheus-alertmanager are not installed\n"
    rows, memory = [], []
    for case in cases:
        got = asyncio.run(measure(case, repeats))
        a, b, page = Spread.of(got["a"]), Spread.of(got["b"]), Spread.of(got["page"])
        rows.append([case.name, a, b, f"{a.mid / b.mid:.2f}x", page])
        x, am, prom = got["rss_parts"]
        rss_a, rss_b = got["rss_a"][0], got["rss_b"][0]
        memory.append(
            [
                case.name,
                f"{rss_a:.1f}",
                f"{x:.1f} + {am:.1f} + {prom:.1f} = {rss_b:.1f}",
                f"{rss_a / rss_b:.2f}x",
            ]
        )
    return table(
        title,
        [
            "case",
            "(a) watcher alone",
            "(b) watcher -> prometheus -> alertmanager",
            "ratio a/b",
            "(a) after the poll that saw it, minus for and group_wait",
        ],
        rows,
    ) + table(
        "Peak resident memory at the end of the latency run (MB)",
        ["case", "(a) watcher alone", "(b) exporter + alertmanager + prometheus", "ratio a/b"],
        memory,
    )


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="matched intervals, one change")
    parser.add_argument("--defaults", action="store_true", help="also each system's defaults")
    args = parser.parse_args(argv)
    if args.small:
        print(run([MATCHED], 1))
    else:
        print(run([MATCHED, DEFAULTS] if args.defaults else [MATCHED], REPEATS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
