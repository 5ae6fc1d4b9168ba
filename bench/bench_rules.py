"""Time one evaluation of the shipped rules/ over 10k and 100k series.

Prints the evaluation time (min/median/max of 3 repeats) and its ratio to a baseline measured
in the same run: the same rules written out by hand in Python (``ByHand``: the selections,
matchers, the ``and on (...)`` join, comparisons, output labels, and the alert state kept in
SQLite). Both sides take the store's snapshot and persist what changed, as the daemon's
evaluation does. Goal: <= 50 ms at 10k series, growing linearly.
Run: ``python -m bench.bench_rules [--small]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench.common import REPEATS, ROOT, Spread, ratio, table
from watcher.config import GlobalConfig
from watcher.metrics import WatcherMetrics
from watcher.rules import RuleManager, load_rule_files
from watcher.series import Series
from watcher.state import open_db, transaction
from watcher.store import SeriesStore

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


def fill(series: list[Series]) -> SeriesStore:
    """A store holding ``series``: one group per coupon, per account and per source."""
    store = SeriesStore()
    groups: dict[tuple[str, str], list[Series]] = {}
    for s in series:
        key = s.labels.get("coupon_id") or s.labels.get("user_name") or s.name
        groups.setdefault((s.labels["source"], key), []).append(s)
    for (source, key), members in groups.items():
        store.put(source, key, members, NOW)
    return store


class ByHand:
    """The shipped rules written out in plain Python: the same selections, matchers, joins and
    comparisons, output labels and a summary per alert, and the alert state kept in SQLite
    (only what changed is written, in one transaction), as the rule manager does."""

    STATUSES = frozenset({"pending", "unused"})

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute(
            "CREATE TABLE IF NOT EXISTS hand_alerts (rule TEXT, labels TEXT, active_at REAL,"
            " summary TEXT, PRIMARY KEY (rule, labels))"
        )
        self.active: dict[tuple[str, str], tuple[float, str]] = {}

    def evaluate(self, store: SeriesStore) -> int:
        """One evaluation at NOW; the number of active alerts."""
        snap = store.snapshot(NOW)
        now = snap.time
        firing: dict[tuple[str, str], str] = {}

        def hit(rule: str, labels: dict[str, str], summary: str, **extra: str) -> None:
            out = {k: v for k, v in labels.items() if k != "__name__"} | extra
            firing[rule, json.dumps(sorted(out.items()))] = summary

        remaining = {
            (s.labels["source"], s.labels["coupon_id"], s.labels["status"])
            for s in snap.select("coinw_mega_coupon_remaining_amount")
            if s.value > 0
        }
        for s in snap.select("coinw_mega_coupon_expiry_timestamp_seconds"):
            labels = s.labels
            if labels.get("status", "") not in self.STATUSES or s.value - now >= 3 * 86400:
                continue
            if (labels["source"], labels["coupon_id"], labels["status"]) in remaining:
                left = s.value - now
                hit(
                    "MegaCouponExpiringSoon",
                    dict(labels),
                    f"expires in {left:.0f}s",
                    severity="warning",
                )
        for s in snap.select("coinw_mega_coupon_kyc_required"):
            if s.labels.get("status", "") in self.STATUSES and s.value == 1:
                hit("MegaCouponKycRequired", dict(s.labels), "KYC", severity="critical")
        for s in snap.select("coinw_affiliate_trading_volume"):
            if s.value == 0:
                hit("AffiliateVolumeZero", dict(s.labels), "zero", severity="warning")
        for s in snap.select("tradeboss_account_balance"):
            if s.value < 1000:
                hit("AccountBalanceLow", dict(s.labels), f"{s.value:.2f}", severity="critical")
        for s in snap.select("watcher_source_up"):
            if s.value == 0:
                hit("SourceDown", dict(s.labels), "down", severity="critical")
        for s in snap.select("watcher_source_last_success_timestamp_seconds"):
            if now - s.value > 3600:
                hit("SourceStale", dict(s.labels), f"{now - s.value:.0f}s", severity="warning")
        upserts = [
            (rule, labels, now, summary)
            for (rule, labels), summary in firing.items()
            if self.active.get((rule, labels), (0.0, ""))[1] != summary
        ]
        gone = [key for key in self.active if key not in firing]
        if upserts or gone:
            with transaction(self.db):
                self.db.executemany(
                    "INSERT OR REPLACE INTO hand_alerts VALUES (?, ?, COALESCE((SELECT active_at"
                    " FROM hand_alerts WHERE rule = ?1 AND labels = ?2), ?3), ?4)",
                    upserts,
                )
                self.db.executemany("DELETE FROM hand_alerts WHERE rule = ? AND labels = ?", gone)
        self.active = {
            key: (self.active.get(key, (now, ""))[0], summary) for key, summary in firing.items()
        }
        return len(firing)


def run(sizes: list[int], repeats: int) -> str:
    """The table for ``sizes``."""
    groups = load_rule_files(sorted((ROOT / "rules").glob("*.yaml")))
    rng = random.Random(42)
    folder = Path(tempfile.mkdtemp(prefix="watcher-bench-rules-"))
    rows = []
    for n in sizes:
        store = fill(make_series(n, rng))
        manager = RuleManager(
            groups,
            metrics=WatcherMetrics(CollectorRegistry()),
            external_labels={"cluster": "bench"},
            db=open_db(str(folder / f"rules-{n}.db")),
            evaluation_interval=GlobalConfig().evaluation_interval,
        )
        hand = ByHand(open_db(str(folder / f"hand-{n}.db")))
        # Warm up: creates the pending alerts and writes them once, as a first evaluation does.
        manager.evaluate(store.snapshot(NOW))
        alerts = len(manager.active())  # pending and firing, as ``ByHand`` counts them
        hand_alerts = hand.evaluate(store)

        def baseline(h: ByHand = hand, st: SeriesStore = store) -> int:
            return h.evaluate(st)

        def rules(m: RuleManager = manager, st: SeriesStore = store) -> object:
            return m.evaluate(st.snapshot(NOW))

        # Each repeat is the median of several runs: one evaluation at 10k is a few ms.
        inner = max(1, 50_000 // n)
        ours, base = [], []
        for _ in range(repeats):  # interleaved, so load on the machine hits both alike
            ours.append(median_of(rules, inner))
            base.append(median_of(baseline, inner))
        wall, cpu = (Spread.of([o[i] for o in ours]).scaled(1e3) for i in (0, 1))
        base_wall, base_cpu = (Spread.of([b[i] for b in base]).scaled(1e3) for i in (0, 1))
        rows.append(
            [n, wall, cpu, base_wall, base_cpu, ratio(cpu, base_cpu), f"{alerts} / {hand_alerts}"]
        )
    return table(
        "Rule evaluation, shipped rules, snapshot and state persistence included"
        " (ms, min/median/max)",
        [
            "series",
            "rules wall ms",
            "rules CPU ms",
            "by hand wall ms",
            "by hand CPU ms",
            "CPU ratio",
            "active alerts (rules / by hand)",
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
