"""Sample history: rules read range vectors and offset over the samples of past polls."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest

from watcher.history import (
    LOOKBACK_MS,
    STALE_NAN,
    Retention,
    SampleHistory,
    is_stale,
    required_retention,
)
from watcher.rules.evaluate import Evaluator, Sample
from watcher.rules.loader import load_rule_files
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import compile_expr
from watcher.series import Series
from watcher.store import SeriesStore


def _store(history: SampleHistory) -> SeriesStore:
    store = SeriesStore()
    store.subscribe(history.record)
    return store


def _eval(store: SeriesStore, history: SampleHistory, expr: str, at: float) -> list[Sample]:
    evaluator = Evaluator(history.over(SnapshotQueryable(store.snapshot(at))), at)
    return [
        Sample(s.name, dict(s.labels), s.value)
        for s in evaluator.vector(compile_expr(expr, history=True))
    ]


def test_rate_over_polls() -> None:
    """A counter polled every minute: rate() over 2m is Prometheus's per-second increase."""
    history = SampleHistory(retention_ms=10 * 60_000)
    store = _store(history)
    for minute, value in enumerate([0, 60, 120]):
        store.put("s", "g", [Series("errors_total", {"source": "s"}, float(value))], minute * 60.0)
    assert [Sample(None, {"source": "s"}, 1.0)] == _eval(
        store, history, "rate(errors_total[2m])", 120
    )
    assert [Sample(None, {"source": "s"}, 120.0)] == _eval(
        store, history, "increase(errors_total[2m])", 120
    )


def test_label_values_holding_separators_stay_separate_series() -> None:
    """Upstream text in a label can hold any character: {a="x<NUL>b<SOH>y"} and
    {a="x", b="y"} are two series with their own histories, never one."""
    history = SampleHistory(retention_ms=10 * 60_000)
    store = _store(history)
    tricky = [
        Series("balance", {"a": "x\x00b\x01y"}, 1.0),
        Series("balance", {"a": "x", "b": "y"}, 2.0),
    ]
    for minute in range(3):
        store.put("s", "g", tricky, minute * 60.0)
    got = _eval(store, history, "sum_over_time(balance[5m])", 120)
    assert sorted([3.0, 6.0]) == sorted(s.value for s in got)


def test_vanished_series_gets_a_stale_marker() -> None:
    """A series a poll no longer returns is stale at once for offset, as a scrape marks it."""
    history = SampleHistory(retention_ms=10 * 60_000)
    store = _store(history)
    both = [Series("balance", {"user": "a"}, 1.0), Series("balance", {"user": "b"}, 2.0)]
    store.put("s", "g", both, 0.0)
    store.put("s", "g", both[:1], 60.0)
    assert [Sample("balance", {"user": "a"}, 1.0)] == _eval(store, history, "balance offset 1s", 61)
    assert [Sample("balance", {"user": "a"}, 1.0), Sample("balance", {"user": "b"}, 2.0)] == sorted(
        _eval(store, history, "balance offset 1s", 59), key=lambda s: s.labels["user"]
    )
    # stale markers are not samples: b's range still holds its one real sample
    assert [1.0, 2.0] == sorted(
        s.value for s in _eval(store, history, "count_over_time(balance[5m])", 60)
    )


def test_samples_older_than_the_retention_are_dropped() -> None:
    """Only as much is kept as the rules can read: memory stays bounded."""
    history = SampleHistory(retention_ms=2 * 60_000)
    store = _store(history)
    for minute in range(10):
        store.put("s", "g", [Series("x", {}, float(minute))], minute * 60.0)
    assert 3 == len(history)  # t = 7m, 8m, 9m: the oldest one inside [9m - 2m, 9m]


def test_nothing_is_recorded_when_no_rule_reads_the_past(tmp_path: Path) -> None:
    """Rules without ranges or offset need no history, so none is kept."""
    rules = tmp_path / "r.yaml"
    rules.write_text("groups:\n- name: g\n  rules:\n  - {alert: A, expr: x > 1}\n")
    history = SampleHistory(required_retention(load_rule_files([rules])))
    _store(history).put("s", "g", [Series("x", {}, 2.0)], 0.0)
    assert (0, 0) == (history.retention_ms, len(history))


@pytest.mark.parametrize(
    ("expr", "window_ms"),
    [
        ("rate(x[5m]) > 0", 5 * 60_000),
        ("x < 0.5 * x offset 7d", 7 * 86_400_000),
        ("delta(x[1h] offset 30m) < 0", 90 * 60_000),
        ("predict_linear(x[6h], 6 * 3600) < 0", 6 * 3_600_000),
    ],
)
def test_retention_is_the_longest_window_plus_lookback(
    tmp_path: Path, expr: str, window_ms: int
) -> None:
    """Retention = longest range + offset any rule reads, plus the 5-minute lookback."""
    rules = tmp_path / "r.yaml"
    rules.write_text(f"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: '{expr}'\n")
    assert window_ms + LOOKBACK_MS == required_retention(load_rule_files([rules]))


def test_a_vanished_series_ages_out_with_its_points() -> None:
    """A series no poll returns any more is forgotten once its last sample is past retention."""
    history = SampleHistory(retention_ms=2 * 60_000)
    store = _store(history)
    store.put("s", "g", [Series("x", {"a": "1"}, 1.0), Series("x", {"a": "2"}, 2.0)], 0.0)
    for minute in range(1, 6):
        store.put("s", "g", [Series("x", {"a": "1"}, 1.0)], minute * 60.0)
    assert [{"a": "1"}] == [dict(p.labels) for p in history.matching("x", [])]


def test_an_expired_group_is_marked_stale() -> None:
    """A group past its source's stale_after ends its series with a stale marker."""
    history = SampleHistory(retention_ms=30 * 60_000)
    store = _store(history)
    store.subscribe_drops(history.drop)
    store.configure("s", stale_after=90)
    store.put("s", "g", [Series("balance", {}, 5.0)], 0.0)
    store.snapshot(120.0)  # expires the group at 120 s
    assert [5.0] == [s.value for s in _eval(store, history, "balance offset 11s", 130)]
    assert [] == _eval(store, history, "balance offset 1s", 122)
    # the marker itself is no sample: a range still counts only the real one
    assert [1.0] == [s.value for s in _eval(store, history, "count_over_time(balance[10m])", 130)]


def test_a_removed_source_is_marked_stale() -> None:
    """A source taken out of the config (reload) marks all of its series stale."""
    history = SampleHistory(retention_ms=30 * 60_000)
    store = _store(history)
    store.subscribe_drops(history.drop)
    store.put("s", "g", [Series("x", {}, 1.0)], 0.0)
    store.remove_source("s", 30.0)
    assert [] == _eval(store, history, "x offset 1s", 40)
    assert [1.0] == [s.value for s in _eval(store, history, "x offset 1s", 20)]


def test_the_stale_marker_is_prometheus_stale_nan() -> None:
    """The marker has Prometheus's bit pattern; an ordinary NaN is a value, not staleness."""
    assert 0x7FF0000000000002 == struct.unpack("<Q", struct.pack("<d", STALE_NAN))[0]
    assert is_stale(STALE_NAN)
    assert not is_stale(math.nan)
    history = SampleHistory(retention_ms=30 * 60_000)
    store = _store(history)
    store.put("s", "g", [Series("x", {}, math.nan)], 0.0)
    assert [True] == [math.isnan(s.value) for s in _eval(store, history, "x offset 1s", 10)]


def test_retention_per_metric_follows_the_rules(tmp_path: Path) -> None:
    """Each metric is kept for its longest range + offset, plus the 5-minute lookback."""
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n"
        "  - {alert: A, expr: 'rate(a[10m]) > 0'}\n"
        "  - {alert: B, expr: 'b < 0.5 * b offset 7d'}\n"
        "  - {alert: C, expr: 'c > 1'}\n"
    )
    groups = load_rule_files([rules])
    rules_only = Retention.of(groups)
    assert (600_000 + LOOKBACK_MS, 7 * 86_400_000 + LOOKBACK_MS, 0) == tuple(
        rules_only.for_metric(n) for n in "abc"
    )
    with_api = Retention.of(groups, 86_400_000)
    assert (86_400_000 + LOOKBACK_MS, 7 * 86_400_000 + LOOKBACK_MS) == (
        with_api.for_metric("a"),
        with_api.for_metric("b"),
    )
    assert 86_400_000 + LOOKBACK_MS == with_api.for_metric("c")
    history = SampleHistory(rules_only)
    store = _store(history)
    for minute in range(30):
        store.put("s", "g", [Series(n, {}, float(minute)) for n in "abc"], minute * 60.0)
    held = {p.name: len(p) for p in history.matching(None, [])}
    assert {"a": 16, "b": 30} == held  # c is read by no range: not recorded at all


def test_unnamed_selector_keeps_every_metric(tmp_path: Path) -> None:
    """A selector without a metric name may read any metric, so its window covers all."""
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n"
        "  - {alert: A, expr: 'count_over_time({job=\"x\"}[1h]) > 0'}\n"
    )
    assert 3_600_000 + LOOKBACK_MS == Retention.of(load_rule_files([rules])).for_metric("any")


def test_memory_is_bounded() -> None:
    """Past max_in_memory, every series gives up its oldest samples (without a disk: gone)."""
    history = SampleHistory(retention_ms=86_400_000, max_in_memory=1000)
    store = _store(history)
    for step in range(200):
        store.put("s", "g", [Series("x", {"i": str(i)}, float(step)) for i in range(10)], step)
    assert len(history) <= 1000
    # the newest samples are all still there
    assert 10 == len(_eval(store, history, "x offset 1s", 199))


def test_a_subquery_window_counts_in_the_retention(tmp_path: Path) -> None:
    """A subquery reaches back its range + offset, then its expression's own range."""
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n"
        "  - {alert: A, expr: 'max_over_time(rate(x[5m])[1h:1m] offset 10m) > 0'}\n"
    )
    window = (60 + 10 + 5) * 60_000
    assert window + LOOKBACK_MS == Retention.of(load_rule_files([rules])).for_metric("x")
