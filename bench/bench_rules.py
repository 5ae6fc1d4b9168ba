"""Time one evaluation of the shipped rules/ over 10k and 100k series.

Prints the median evaluation time and its ratio to a baseline measured in the same run: one
plain Python pass comparing every series' value with a threshold (the least any evaluator
must do). Goal: <= 50 ms at 10k series, growing linearly. Run: ``python bench/bench_rules.py``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.metrics import WatcherMetrics  # noqa: E402
from watcher.rules import RuleManager, load_rule_files  # noqa: E402
from watcher.series import Series, Snapshot  # noqa: E402

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


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    """Print one line per size."""
    groups = load_rule_files(sorted((ROOT / "rules").glob("*.yaml")))
    rng = random.Random(42)
    print(f"{'series':>8} {'rules ms':>9} {'baseline ms':>12} {'ratio':>6} {'alerts':>7}")
    for n in (10_000, 100_000):
        snapshot = Snapshot.of(NOW, make_series(n, rng))
        manager = RuleManager(
            groups,
            metrics=WatcherMetrics(CollectorRegistry()),
            external_labels={"cluster": "bench"},
        )
        alerts = len(manager.evaluate(snapshot))  # warm up; creates pending state

        def baseline(snap: Snapshot = snapshot) -> int:
            return sum(1 for s in snap.select(None) if s.value < 1000)

        runs = 15 if n <= 10_000 else 5

        def rules(m: RuleManager = manager, snap: Snapshot = snapshot) -> object:
            return m.evaluate(snap)

        rules_ms = median_ms(rules, runs)
        base_ms = median_ms(baseline, runs)
        print(f"{n:>8} {rules_ms:>9.1f} {base_ms:>12.2f} {rules_ms / base_ms:>6.1f} {alerts:>7}")


if __name__ == "__main__":
    main()
