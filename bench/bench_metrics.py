"""/metrics at 10k and 100k series: cold, nothing changed, and 1 % of groups changed.

Figure: ``watcher.exposition`` answering Prometheus's request (OpenMetrics + gzip). Baseline, in
the same run: what main served before, prometheus-client's ``generate_latest`` (OpenMetrics) over
the same registry plus gzip at zlib's default level (aiohttp's ``enable_compression``). Groups
are shaped like TradeBoss accounts (10 series each). Every scrape follows a poll that put every
group again, as ``SourceRunner`` does. Goal: <= 100 ms at 100k series.
Run: ``python -m bench.bench_metrics [--small]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import random
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from bench.common import Spread, ratio, table, timed_both
from watcher.exposition import Format, StoreExposition
from watcher.series import Series
from watcher.store import SeriesStore, StoreCollector

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
PER_GROUP = 10


def build(n: int, rng: random.Random) -> tuple[SeriesStore, CollectorRegistry]:
    """A store of ``n`` series in groups of 10, and the registry main served it with."""
    store = SeriesStore()
    store.describe("tradeboss_account_balance", "Account balance.")
    for g in range(n // PER_GROUP):
        store.put("wallet", f"acct-{g}", group(g, rng), 0.0)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(store))
    return store, registry


def group(g: int, rng: random.Random) -> list[Series]:
    """One account's series, with fresh values."""
    return [
        Series(
            "tradeboss_account_balance",
            {
                "source": "wallet",
                "user_name": str(86_000_000 + g),
                "currency": f"C{i}",
                "third_server_code": f"tsc-{g % 7}",
            },
            round(rng.uniform(900, 100_000), 2),
        )
        for i in range(PER_GROUP)
    ]


def repoll(store: SeriesStore, changed: float, rng: random.Random) -> None:
    """Put every group again (as a poll does), new values in a ``changed`` share of them."""
    for source, key, series, _ in list(store.groups()):
        if rng.random() < changed:
            store.put(source, key, group(int(key.split("-")[1]), rng), 1.0)
        else:
            store.put(source, key, [Series(s.name, dict(s.labels), s.value) for s in series], 1.0)


def run(sizes: list[int], repeats: int) -> str:
    """The table for ``sizes``."""
    rng = random.Random(7)
    fmt, _ = Format.negotiate(ACCEPT)
    rows = []
    for n in sizes:
        store, registry = build(n, rng)
        self_registry = CollectorRegistry()

        def baseline(reg: CollectorRegistry = registry) -> bytes:
            return gzip.compress(generate_latest(reg), 6)  # type: ignore[no-untyped-call]

        base_wall, base_cpu = timed_both(baseline, repeats)
        cases: list[tuple[str, list[tuple[Spread, Spread]]]] = [
            ("cold", []),
            ("unchanged", []),
            ("1% changed", []),
        ]
        expo = StoreExposition(store, self_registry)
        for _ in range(repeats):
            expo = StoreExposition(store, self_registry)
            cases[0][1].append(timed_both(partial(expo.render, fmt, gzip=True), 1))
        cases[1][1].append(timed_both(partial(expo.render, fmt, gzip=True), repeats))
        for _ in range(repeats):
            repoll(store, 0.01, rng)
            cases[2][1].append(timed_both(partial(expo.render, fmt, gzip=True), 1))
        body = expo.render(fmt, gzip=False)
        assert gzip.decompress(expo.render(fmt, gzip=True)) == body
        assert generate_latest(registry) == body  # type: ignore[no-untyped-call]
        for case, samples in cases:
            wall, cpu = samples[0]
            if len(samples) > 1:  # one sample per repeat
                wall = Spread.of([w.mid for w, _ in samples])
                cpu = Spread.of([c.mid for _, c in samples])
            rows.append(
                [
                    n,
                    case,
                    wall.scaled(1e3),
                    cpu.scaled(1e3),
                    base_wall.scaled(1e3),
                    base_cpu.scaled(1e3),
                    ratio(cpu, base_cpu),
                ]
            )
    return table(
        "/metrics, OpenMetrics + gzip (ms, min/median/max)",
        [
            "series",
            "case",
            "watcher wall ms",
            "watcher CPU ms",
            "prometheus-client wall ms",
            "prometheus-client CPU ms",
            "CPU ratio",
        ],
        rows,
    )


async def _lag_during(work: Callable[[], Awaitable[object]]) -> tuple[float, float, float]:
    """(longest wall gap, loop-thread CPU in that gap, seconds ``work`` took) of a 1 ms ticker.

    The wall gap includes waiting for a core on a shared machine; the CPU the loop's thread
    spent in the gap does not: it is the work (and garbage collection) that held the loop.
    """
    loop = asyncio.get_running_loop()
    done = False
    worst = (0.0, 0.0)

    async def ticker() -> None:
        nonlocal worst
        last, last_cpu = loop.time(), time.thread_time()
        while not done:
            await asyncio.sleep(0.001)
            now, cpu = loop.time(), time.thread_time()
            worst = max(worst, (now - last, cpu - last_cpu))
            last, last_cpu = now, cpu

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = loop.time()
    await work()
    took = loop.time() - started
    done = True
    await task
    return worst[0], worst[1], took


def loop_lag(n: int, repeats: int) -> str:
    """How long a scrape keeps the event loop (and so every poll) from running."""
    rng = random.Random(11)
    fmt, _ = Format.negotiate(ACCEPT)
    store, registry = build(n, rng)
    expo = StoreExposition(store, CollectorRegistry())
    took = 0.0

    async def ours() -> object:
        return await expo.render_async(fmt, gzip=True)

    async def idle() -> object:  # the same time with nothing to do: the machine's own stalls
        await asyncio.sleep(took)
        return None

    async def main_before() -> object:  # main's handler: everything on the loop
        return gzip.compress(generate_latest(registry), 6)  # type: ignore[no-untyped-call]

    asyncio.run(_lag_during(ours))  # the cold render
    gc.freeze()  # as the daemon does after a source's first poll (watcher.sources.runner)
    rows = []
    for _ in range(repeats):
        repoll(store, 0.01, rng)  # the poll itself is not part of the scrape
        wall, cpu, took = asyncio.run(_lag_during(ours))
        idle_wall, idle_cpu, _ = asyncio.run(_lag_during(idle))
        rows.append((wall, cpu, took, idle_wall, idle_cpu))
    base = Spread.of([asyncio.run(_lag_during(main_before))[0] for _ in range(repeats)])

    def col(i: int) -> Spread:
        return Spread.of([r[i] for r in rows]).scaled(1e3)

    return table(
        f"Event-loop stall during one scrape at {n} series, 1% of groups changed (ms)",
        [
            "longest stall, watcher",
            "its CPU on the loop",
            "scrape took",
            "idle loop, same time",
            "its CPU",
            "prometheus-client on the loop",
            "ratio",
        ],
        [
            [
                col(0),
                col(1),
                col(2),
                col(3),
                col(4),
                base.scaled(1e3),
                ratio(col(0), base.scaled(1e3)),
            ]
        ],
    )


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1k series, one repeat (CI)")
    args = parser.parse_args(argv)
    repeats = 1 if args.small else 3
    print(run([1_000] if args.small else [10_000, 100_000], repeats))
    print(loop_lag(5_000 if args.small else 100_000, repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
