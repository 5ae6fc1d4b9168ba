"""Time one evaluation of the shipped rules/ over 10k and 100k series.

Prints the evaluation time (min/median/max of 3 repeats) and its ratio to a baseline measured
in the same run: one plain Python pass comparing every series' value with a threshold (the
least any evaluator must do). Goal: <= 50 ms at 10k series, growing linearly.
Run: ``python -m bench.bench_rules [--small]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from bench.common import REPEATS, ROOT, Spread, ratio, table
from watcher.metrics import WatcherMetrics
from watcher.rules import RuleManager, load_rule_files
from watcher.series import Series, Snapshot

NOW = 1_700_000_000.0


def make_series(n: int, rng: random.Random) -> list[Series]:
    """n series shaped like watcher's: coupons (5 metrics each), balances, sources."""
    out: list[Series] = []
    coupons = n // 10
    for i in range(coupons):
        labels = {"source": "coinw-main", "coupon_id": str(i), "status": "unused", "team": "growth"}
        out.append(
            Series(
                "coinw_mega_coupon_expiry_timestamp_seconds",
                labels,
                NOW + rng.uniform(0, 30) * 86400,
            )
        )
        out.append(Series("coinw_mega_coupon_remaining_amount", labels, rng.uniform(0, 100)))
        out.append(Series("coinw_mega_coupon_total_amount", labels, 100.0))
        out.append(Series("coinw_mega_coupon_kyc_required", labels, float(rng.random() < 0.01)))
        out.append(Series("coinw_mega_coupon_valid_from_timestamp_seconds", labels, NOW))
    while len(out) < n - 4:
        i = len(out)
        labels = {
            "source": "wallet",
            "user_name": str(86_000_000 + i),
            "currency": "HKD",
            "third_server_code": f"tsc-{i % 7}",
        }
        out.append(Series("tradeboss_account_balance", labels, rng.uniform(900, 100_000)))
    out.append(Series("coinw_affiliate_trading_volume", {"source": "coinw-affiliate"}, 0.0))
    for source in ("coinw-main", "wallet"):
        out.append(Series("watcher_source_up", {"source": source}, 1.0))
        out.append(Series("watcher_source_last_success_timestamp_seconds", {"source": source}, NOW))
    return out[:n]


def run(sizes: list[int], repeats: int) -> str:
    """The table for ``sizes``."""
    groups = load_rule_files(sorted((ROOT / "rules").glob("*.yaml")))
    rng = random.Random(42)
    rows = []
    for n in sizes:
        snapshot = Snapshot.of(NOW, make_series(n, rng))
        manager = RuleManager(
            groups,
            metrics=WatcherMetrics(CollectorRegistry()),
            external_labels={"cluster": "bench"},
        )
        alerts = len(manager.evaluate(snapshot))  # warm up; creates pending state

        def baseline(snap: Snapshot = snapshot) -> int:
            return sum(1 for s in snap.select(None) if s.value < 1000)

        def rules(m: RuleManager = manager, snap: Snapshot = snapshot) -> object:
            return m.evaluate(snap)

        # Each repeat is the median of several runs: one evaluation at 10k is a few ms.
        inner = max(1, 50_000 // n)
        ours = [median_of(rules, inner) for _ in range(repeats)]
        base = [median_of(baseline, inner) for _ in range(repeats)]
        wall, cpu = (Spread.of([o[i] for o in ours]).scaled(1e3) for i in (0, 1))
        base_wall, base_cpu = (Spread.of([b[i] for b in base]).scaled(1e3) for i in (0, 1))
        rows.append([n, wall, cpu, base_wall, base_cpu, ratio(cpu, base_cpu), alerts])
    return table(
        "Rule evaluation, shipped rules (ms, min/median/max)",
        [
            "series",
            "rules wall ms",
            "rules CPU ms",
            "baseline wall ms",
            "baseline CPU ms",
            "CPU ratio",
            "alerts",
        ],
        rows,
    )


def median_of(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1k series, one repeat (CI)")
    args = parser.parse_args(argv)
    print(run([1_000] if args.small else [10_000, 100_000], 1 if args.small else REPEATS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
