"""Sample history: bytes per stored sample (memory, SQLite) and query latency at 10k series x 24 h.

Figures: ``watcher.history`` (two flat arrays per series, bisected; ``watcher.history.disk``'s
``WITHOUT ROWID`` table). Baseline, in the same run and at the same size: main's history before
it (a deque of ``(ms, value)`` tuples per series, scanned from the start for every lookup) and,
for disk, the obvious schema (a rowid table ``(series, t, v)`` with an index on ``(series, t)``).
A poll every 60 s, so 24 h are 1,440 samples per series. Queries run as the rules and
``/api/v1/query_range`` run them: one ``Evaluator`` per step over the history as of that step.
Run: ``python -m bench.bench_history [--small]``.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import sys
import tempfile
import tracemalloc
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from bench.common import REPEATS, Spread, ratio, table, timed
from watcher.history import LOOKBACK_MS, Points, Retention, SampleHistory
from watcher.history.disk import SampleDisk, connect_writer
from watcher.matchers import Matcher
from watcher.metrics import WatcherMetrics
from watcher.query import AsOf
from watcher.rules.evaluate import Evaluator, Queryable, Sample, SampleLike
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import compile_expr
from watcher.series import Series, Snapshot
from watcher.state import open_db

STEP_MS = 60_000
DAY_MS = 86_400_000
QUERIES = ("rate(x[5m])", "avg_over_time(x[1h])")


def _value(i: int, k: int) -> float:
    return float(k * (i % 7 + 1)) + (i % 3) / 4


def _labels(i: int) -> dict[str, str]:
    return {"source": "wallet", "user_name": str(86_000_000 + i), "currency": "HKD"}


class _OldHistory:
    """main's history before this change: a deque of (ms, value) tuples per series."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, tuple[tuple[str, str], ...]], deque[tuple[int, float]]] = {}
        self.names: dict[tuple[str, tuple[tuple[str, str], ...]], Mapping[str, str]] = {}

    def record(self, series: Sequence[Series], ms: int) -> None:
        for s in series:
            key = (s.name, tuple(sorted(s.labels.items())))
            points = self.points.get(key)
            if points is None:
                points = self.points[key] = deque(maxlen=100_000)
                self.names[key] = s.labels
            points.append((ms, s.value))


class _OldView:
    """main's HistoryView before this change (linear scans), as of ``at_ms``."""

    def __init__(self, history: _OldHistory, at_ms: int) -> None:
        self.history = history
        self.at_ms = at_ms

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        return self.select_at(name, matchers, self.at_ms)

    def select_at(
        self, name: str | None, matchers: Sequence[Matcher], at_ms: int
    ) -> Iterable[SampleLike]:
        out: list[SampleLike] = []
        for key, points in self.history.points.items():
            latest: tuple[int, float] | None = None
            for point in points:
                if point[0] > at_ms:
                    break
                latest = point
            if latest is not None and latest[0] >= at_ms - LOOKBACK_MS:
                out.append(Sample(key[0], self.history.names[key], latest[1]))
        return out

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        for key, points in self.history.points.items():
            window = [(t, v) for t, v in points if start_ms <= t <= end_ms]
            yield key[0], self.history.names[key], window


class _Prefilled:
    """A disk whose restore hands over prefilled series: builds 14 M samples in seconds."""

    def __init__(self, series: int, polls: int) -> None:
        self.series, self.polls = series, polls

    def restore(self, now_ms: int, retention: Retention, load_ms: int) -> Iterator[Points]:
        for i in range(self.series):
            p = Points("x", _labels(i), DAY_MS + LOOKBACK_MS, 0)
            p.ts = array("q", range(0, self.polls * STEP_MS, STEP_MS))
            p.vs = array("d", (_value(i, k) for k in range(self.polls)))
            yield p

    def series_id(self, name: str, labels: Mapping[str, str]) -> int:
        return 0

    def append(self, sid: int, ms: int, value: float) -> None:
        pass

    def prune(self, cutoffs: Sequence[tuple[int, int]], forget: Sequence[int] = ()) -> None:
        pass

    def read(self, sid: int, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        return []

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


def memory_per_sample(series: int, polls: int) -> tuple[float, float]:
    """(new, old) traced bytes per sample after recording ``series`` x ``polls`` polls."""
    out = []
    for old in (False, True):
        gc.collect()
        tracemalloc.start()
        history: object
        if old:
            history = h_old = _OldHistory()
            for k in range(polls):
                batch = [Series("x", _labels(i), _value(i, k)) for i in range(series)]
                h_old.record(batch, k * STEP_MS)
        else:
            history = h_new = SampleHistory(Retention(DAY_MS * 2), max_in_memory=10**9)
            for k in range(polls):
                batch = [Series("x", _labels(i), _value(i, k)) for i in range(series)]
                h_new.record("s", "g", batch, k * STEP_MS / 1000)
        gc.collect()
        used, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append(used / (series * polls))
        del history
    return out[0], out[1]


def disk_per_sample(series: int, polls: int) -> tuple[float, float]:
    """(watcher.history.disk, rowid table with an index) file bytes per sample."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "state.db")
        db = open_db(path)
        disk = SampleDisk(db, connect_writer(path), WatcherMetrics(CollectorRegistry()))
        history = SampleHistory(Retention(DAY_MS * 2), max_in_memory=10**9, disk=disk)
        for k in range(polls):
            batch = [Series("x", _labels(i), _value(i, k)) for i in range(series)]
            history.record("s", "g", batch, k * STEP_MS / 1000)
        disk.close()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        new = Path(path).stat().st_size
        base_path = str(Path(tmp) / "rowid.db")
        base = sqlite3.connect(base_path)
        base.execute("CREATE TABLE samples (series INTEGER, t INTEGER, v REAL)")
        base.execute("CREATE INDEX samples_st ON samples (series, t)")
        rows = ((i, k * STEP_MS, _value(i, k)) for k in range(polls) for i in range(series))
        base.executemany("INSERT INTO samples VALUES (?, ?, ?)", rows)
        base.commit()
        base.execute("VACUUM")
        base.close()
        old = Path(base_path).stat().st_size
    return new / (series * polls), old / (series * polls)


def _steps(
    expr: str, source: Callable[[int], Queryable], end_ms: int, steps: int
) -> list[tuple[int, str, float]]:
    """Evaluate ``expr`` at ``steps`` steps 5 minutes apart ending at ``end_ms``."""
    node = compile_expr(expr, history=True)
    out: list[tuple[int, str, float]] = []
    for s in range(steps):
        ms = end_ms - (steps - 1 - s) * 5 * STEP_MS
        value = Evaluator(source(ms), ms / 1000).eval(node)
        assert not isinstance(value, float)
        out += sorted((ms, str(sorted(v.labels.items())), v.value) for v in value)
    return out


def query_latency(series: int, polls: int, repeats: int) -> tuple[list[list[object]], bool]:
    """Rows: instant queries and a 1-hour query_range, new vs old, at ``series`` x ``polls``."""
    end_ms = (polls - 1) * STEP_MS
    new = SampleHistory(Retention(DAY_MS + LOOKBACK_MS), max_in_memory=10**10)
    new.disk = _Prefilled(series, polls)
    new.load(end_ms / 1000, DAY_MS * 2)
    new.disk = None
    # The current series are never read: AsOf sends every selector to the history.
    new_view = new.over(SnapshotQueryable(Snapshot(0.0)))
    old = _OldHistory()
    for i in range(series):
        key = ("x", tuple(sorted(_labels(i).items())))
        old.points[key] = deque(((k * STEP_MS, _value(i, k)) for k in range(polls)), 100_000)
        old.names[key] = _labels(i)
    rows: list[list[object]] = []
    same = True
    cases = [(f"instant {q}", q, 1) for q in QUERIES]
    cases.append(("query_range rate(x[5m]) 1h step 5m", "rate(x[5m])", 13))
    for title, expr, steps in cases:
        answers: list[list[tuple[int, str, float]]] = []

        def on_new(expr: str = expr, steps: int = steps, answers: list[Any] = answers) -> None:
            answers.append(_steps(expr, lambda ms: AsOf(new_view, ms), end_ms, steps))

        def on_old(expr: str = expr, steps: int = steps, answers: list[Any] = answers) -> None:
            answers.append(_steps(expr, lambda ms: _OldView(old, ms), end_ms, steps))

        got, base = timed(on_new, repeats).scaled(1e3), timed(on_old, 1).scaled(1e3)
        # both answer the same, and not nothing
        same &= bool(answers[0]) and all(a == answers[0] for a in answers)
        rows.append([f"{series} x {polls}, {title}", got, base, ratio(got, base)])
    return rows, same


def run(series: int, polls: int, repeats: int) -> tuple[str, bool]:
    """The tables for ``series`` series of ``polls`` samples each; False if the new history
    and main's answered a query differently."""
    small = min(series, 1000)
    mem = [memory_per_sample(small, min(polls, 600)) for _ in range(repeats)]
    disk = [disk_per_sample(small, min(polls, 600)) for _ in range(repeats)]
    mem_new, mem_old = Spread.of([m[0] for m in mem]), Spread.of([m[1] for m in mem])
    disk_new, disk_old = Spread.of([d[0] for d in disk]), Spread.of([d[1] for d in disk])
    size_rows: list[list[object]] = [
        ["memory, traced bytes per sample", mem_new, mem_old, ratio(mem_new, mem_old)],
        ["SQLite file bytes per sample", disk_new, disk_old, ratio(disk_new, disk_old)],
    ]
    text = table(
        f"Sample history: bytes per sample ({small} series x {min(polls, 600)} polls, min/median/max)",
        ["figure", "watcher.history", "baseline", "ratio"],
        size_rows,
    )
    rows, same = query_latency(series, polls, repeats)
    text += table(
        "Sample history: query latency (ms, min/median/max; baseline one run)",
        ["query", "watcher.history", "main before", "ratio"],
        rows,
    )
    return text, same


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="200 series x 2 h, one repeat")
    args = parser.parse_args(argv)
    text, same = run(200, 120, 1) if args.small else run(10_000, 1440, REPEATS)
    print(text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
