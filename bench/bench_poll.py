"""Polling overhead: one TradeBoss source (concurrency 8) against a bare aiohttp loop.

Both run in this process against the same fast fake server (``bench.fake_upstream``, another
process), with one shared ``ClientSession`` each, the same N requests (same URL, headers and
JSON body), 8 at a time. The bare loop only sends, decodes the JSON and reads the amount as a
``Decimal``; the source also signs nothing more than the headers, rate-limits (through the
daemon's SQLite slot book), retries on failure, checks the answer and builds series. Figures:
requests per second and CPU per request; goal: throughput >= 0.9x the bare loop. Run: ``python -m bench.bench_poll [--small]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import aiohttp

from bench.common import REPEATS, Spread, fake_upstream, table, tradeboss_yaml
from watcher.clock import SystemClock
from watcher.config import TradebossConfig, parse_config
from watcher.ratelimit import FileBook, LimiterRegistry
from watcher.sources import build_source

PATH = "/api/cats-gateway/get-user-amount"
CONCURRENCY = 8


async def watcher_poll(url: str, n: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one poll of an ``n``-account source."""
    config = parse_config(tradeboss_yaml(url, n), Path("bench.yaml"), {})
    source_config = config.sources[0]
    assert isinstance(source_config, TradebossConfig)
    clock = SystemClock()
    # The daemon's slot book: a SQLite file shared by every watcher process.
    book = FileBook(str(Path(tempfile.mkdtemp(prefix="watcher-bench-")) / "rate-limits.db"))
    async with aiohttp.ClientSession(headers={"User-Agent": "watcher"}) as session:
        source = build_source(source_config, session, LimiterRegistry(clock, book), clock)
        wall, cpu = time.perf_counter(), time.process_time()
        result = await source.poll()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    book.close()
    assert not result.errors, result.errors[:1]
    assert n == len(result.groups)
    return wall, cpu


async def bare_poll(url: str, n: int) -> tuple[float, float]:
    """The same requests from a plain aiohttp loop, 8 at a time."""
    accounts = [(f"tsc-{i % 7}", str(86_000_000 + i)) for i in range(n)]
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for account in accounts:
        queue.put_nowait(account)
    amounts: list[Decimal] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            code, user = queue.get_nowait()
            body = json.dumps({"thirdServerCode": code, "userName": user, "currency": "HKD"})
            headers = {
                "Authorization": "Bearer bench-token",
                "trace": uuid.uuid4().hex,
                "companyId": "1",
                "timestamp": str(int(time.time() * 1000)),
                "Content-Type": "application/json",
            }
            async with session.post(url + PATH, data=body, headers=headers) as resp:
                answer = await resp.json()
            amounts.append(Decimal(answer["data"]["amount"]))

    async with aiohttp.ClientSession(headers={"User-Agent": "watcher"}) as session:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert n == len(amounts)
    return wall, cpu


def _median_poll(polls: list[tuple[float, float]]) -> tuple[float, float]:
    """(median wall, median CPU) seconds of several polls."""
    return statistics.median(w for w, _ in polls), statistics.median(c for _, c in polls)


def run(sizes: list[int], repeats: int, batch: int = 10_000) -> str:
    """The table for ``sizes``."""
    rows = []
    with fake_upstream() as urls:
        url = urls["tradeboss"]
        asyncio.run(bare_poll(url, 50))  # warm up the server and imports
        for n in sizes:
            ours: list[tuple[float, float]] = []
            bare: list[tuple[float, float]] = []
            # A poll of 100 takes ~20 ms: each repeat is the median of polls adding up to
            # ~10k requests, interleaved, so a burst of load on the machine hits both alike.
            inner = max(1, batch // n)
            for _ in range(repeats):
                pairs = [
                    (asyncio.run(bare_poll(url, n)), asyncio.run(watcher_poll(url, n)))
                    for _ in range(inner)
                ]
                bare.append(_median_poll([b for b, _ in pairs]))
                ours.append(_median_poll([w for _, w in pairs]))
            rate = Spread.of([n / w for w, _ in ours])
            base_rate = Spread.of([n / w for w, _ in bare])
            cpu = Spread.of([c / n * 1e6 for _, c in ours])
            base_cpu = Spread.of([c / n * 1e6 for _, c in bare])
            rows.append(
                [
                    n,
                    rate,
                    base_rate,
                    f"{rate.mid / base_rate.mid:.2f}x",
                    cpu,
                    base_cpu,
                    f"{cpu.mid / base_cpu.mid:.2f}x",
                ]
            )
    return table(
        "Polling: TradeBoss source vs bare aiohttp, concurrency 8 (min/median/max)",
        [
            "requests",
            "watcher req/s",
            "bare req/s",
            "throughput ratio",
            "watcher CPU us/req",
            "bare CPU us/req",
            "CPU ratio",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="50 requests, one repeat (CI)")
    args = parser.parse_args(argv)
    sizes = [50] if args.small else [100, 1_000, 10_000]
    print(run(sizes, 1, batch=0) if args.small else run(sizes, REPEATS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
