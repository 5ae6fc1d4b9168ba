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
import gzip
import random
import sys
from functools import partial

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from bench.common import Spread, ratio, table, timed
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

        base = timed(baseline, repeats)
        cases: list[tuple[str, Spread]] = []
        colds = []
        for _ in range(repeats):
            expo = StoreExposition(store, self_registry, registry)
            colds.append(timed(partial(expo.render, fmt, gzip=True), 1).mid)
        cases.append(("cold", Spread.of(colds)))
        cases.append(("unchanged", timed(partial(expo.render, fmt, gzip=True), repeats)))
        samples = []
        for _ in range(repeats):
            repoll(store, 0.01, rng)
            samples.append(timed(partial(expo.render, fmt, gzip=True), 1).mid)
        cases.append(("1% changed", Spread.of(samples)))
        body = expo.render(fmt, gzip=False)
        assert gzip.decompress(expo.render(fmt, gzip=True)) == body
        assert generate_latest(registry) == body  # type: ignore[no-untyped-call]
        for case, spread in cases:
            rows.append([n, case, spread.scaled(1e3), base.scaled(1e3), ratio(spread, base)])
    return table(
        "/metrics, OpenMetrics + gzip (ms, min/median/max)",
        ["series", "case", "watcher ms", "prometheus-client ms", "ratio"],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1k series, one repeat (CI)")
    args = parser.parse_args(argv)
    print(run([1_000] if args.small else [10_000, 100_000], 1 if args.small else 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
