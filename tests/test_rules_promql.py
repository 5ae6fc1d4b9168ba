"""The PromQL subset evaluates with Prometheus's semantics over one snapshot."""

from __future__ import annotations

import math

import pytest

from watcher.errors import RuleError
from watcher.rules.evaluate import Evaluator, Sample
from watcher.rules.manager import SnapshotQueryable
from watcher.rules.promql import compile_expr
from watcher.series import Series, Snapshot

SERIES = [
    Series("balance", {"user": "a", "cur": "HKD"}, 500.0),
    Series("balance", {"user": "b", "cur": "HKD"}, 2000.0),
    Series("balance", {"user": "c", "cur": "USD"}, 50.0),
    Series("limit", {"user": "a", "cur": "HKD"}, 1000.0),
    Series("limit", {"user": "b", "cur": "HKD"}, 1000.0),
    Series("up", {"source": "s1"}, 1.0),
    Series("up", {"source": "s2"}, 0.0),
]


def run(
    expr: str, series: list[Series] | None = None, t: float = 1000.0
) -> list[tuple[str | None, dict[str, str], float]]:
    snap = Snapshot.of(t, SERIES if series is None else series)
    vec = Evaluator(SnapshotQueryable(snap), t).vector(compile_expr(expr))
    return sorted(
        ((s.name, dict(s.labels), s.value) for s in vec), key=lambda x: sorted(x[1].items())
    )


def test_comparison_filter_keeps_metric_name_and_value() -> None:
    """`balance < 1000` keeps matching series with their name and value."""
    assert sorted(run("balance < 1000"), key=lambda x: x[2]) == [
        ("balance", {"user": "c", "cur": "USD"}, 50.0),
        ("balance", {"user": "a", "cur": "HKD"}, 500.0),
    ]


def test_scalar_on_left_of_comparison_keeps_vector_value() -> None:
    """`1000 > balance` returns the vector's values, not the scalar."""
    assert sorted(v for _, _, v in run("1000 > balance")) == [50.0, 500.0]


def test_arithmetic_and_bool_drop_metric_name() -> None:
    """Arithmetic and `bool` comparisons drop __name__; `bool` gives 0 or 1."""
    assert {None} == {n for n, _, _ in run("balance * 2")}
    assert run("up == bool 0") == [(None, {"source": "s1"}, 0.0), (None, {"source": "s2"}, 1.0)]


def test_one_to_one_matching_on_all_labels() -> None:
    """`balance / limit` matches series with identical labels (name excluded)."""
    assert run("balance / limit") == [
        (None, {"user": "a", "cur": "HKD"}, 0.5),
        (None, {"user": "b", "cur": "HKD"}, 2.0),
    ]


def test_on_keeps_only_listed_labels() -> None:
    """With on(user) the result carries only the `user` label."""
    assert run("balance - on(user) limit") == [
        (None, {"user": "a"}, -500.0),
        (None, {"user": "b"}, 1000.0),
    ]


def test_many_to_many_is_an_error() -> None:
    """Duplicate match groups on the right side fail like Prometheus."""
    with pytest.raises(RuleError, match="many-to-many matching not allowed"):
        run("balance - on(cur) limit")


def test_set_operators() -> None:
    """`and`, `unless` and `or` match on all labels but the name."""
    assert [lb["user"] for _, lb, _ in run("balance and limit")] == ["a", "b"]
    assert [lb["user"] for _, lb, _ in run("balance unless limit")] == ["c"]
    assert len(run("balance or up")) == 5
    assert [lb["user"] for _, lb, _ in run("balance or limit")] == ["a", "b", "c"]


def test_aggregations_by_and_without() -> None:
    """sum/count/avg/min/max group by the listed labels, dropping the name."""
    assert run("sum by (cur) (balance)") == [
        (None, {"cur": "HKD"}, 2500.0),
        (None, {"cur": "USD"}, 50.0),
    ]
    assert run("count without (user) (balance)") == [
        (None, {"cur": "HKD"}, 2.0),
        (None, {"cur": "USD"}, 1.0),
    ]
    assert run("avg(balance)") == [(None, {}, 850.0)]
    assert run("min(balance)") == [(None, {}, 50.0)]
    assert run("max(balance)") == [(None, {}, 2000.0)]


def test_absent_takes_labels_from_equality_matchers() -> None:
    """absent() of a missing selector returns 1 with its `=` matcher labels."""
    assert run('absent(nope{job="x", env=~"p.*"})') == [(None, {"job": "x"}, 1.0)]
    assert run("absent(up)") == []


def test_regex_matchers_are_fully_anchored() -> None:
    """`=~"s"` does not match "s1": Prometheus anchors regexes at both ends."""
    assert run('up{source=~"s"}') == []
    assert len(run('up{source=~"s."}')) == 2
    assert len(run('up{source!~"s1"}')) == 1


def test_missing_label_matches_empty_string() -> None:
    """`{x=""}` selects series without label x."""
    assert len(run('up{x=""}')) == 2


def test_functions() -> None:
    """time, vector, abs, ceil, floor, round, clamp_min and clamp_max."""
    assert run("time()") == [(None, {}, 1000.0)]
    assert run("vector(3)") == [(None, {}, 3.0)]
    assert run('round(balance{user="c"}, 100)') == [(None, {"user": "c", "cur": "USD"}, 100.0)]
    assert run('clamp_min(balance{user="c"}, 60)') == [(None, {"user": "c", "cur": "USD"}, 60.0)]
    assert run('clamp_max(balance{user="c"}, 40)') == [(None, {"user": "c", "cur": "USD"}, 40.0)]
    assert run('abs(-balance{user="c"})') == [(None, {"user": "c", "cur": "USD"}, 50.0)]
    assert run("ceil(vector(1.2))") == [(None, {}, 2.0)]
    assert run("floor(vector(1.8))") == [(None, {}, 1.0)]


def test_division_by_zero_gives_inf_and_nan() -> None:
    """x/0 is ±Inf, 0/0 is NaN, as in Go."""
    assert math.inf == run("up / 0")[0][2]
    assert math.isnan(run("up / 0")[1][2])


def test_dropping_names_that_collide_is_an_error() -> None:
    """`{__name__=~"limit|balance"} * 1` would yield duplicate label sets."""
    with pytest.raises(RuleError, match="same labelset"):
        run('{__name__=~"limit|balance"} * 1')


@pytest.mark.parametrize(
    ("expr", "construct"),
    [
        ("rate(up[5m])", "range vector selector needs sample history"),
        ("up offset 5m", "offset modifier needs sample history"),
        ("up[5m]", "a rule expression must be a vector or a scalar"),
        ("up @ 100", "@ modifier"),
        ("up[5m:1m]", "a rule expression must be a vector or a scalar"),
        ("max_over_time(up[5m:1m])", "subquery needs sample history"),
        ("label_replace(up, 'a', 'b', 'c', 'd')", "function label_replace()"),
        ("topk(1, up)", "aggregation topk"),
        ("quantile(0.5, up)", "aggregation quantile"),
        ("balance / on(user) group_left limit", "group_left modifier"),
        ('count_values("v", up)', "aggregation count_values"),
    ],
)
def test_unsupported_constructs_are_rejected_by_name(expr: str, construct: str) -> None:
    """Anything outside the subset fails at load with a message naming it."""
    with pytest.raises(RuleError, match=f"^{construct}"):
        compile_expr(expr)


def test_past_samples_compile_only_with_history() -> None:
    """Range functions and offset compile only for a source that keeps sample history."""
    exprs = [
        "rate(up[5m])",
        "up offset 1h",
        "predict_linear(up[6h], 3600) < 0",
        "holt_winters(up[1h], 0.5, 0.5)",
    ]
    for expr in exprs:
        compile_expr(expr, history=True)
        with pytest.raises(RuleError, match="needs sample history"):
            compile_expr(expr)


def test_only_the_2_42_name_of_holt_winters_exists() -> None:
    """Prometheus 2.42 knows holt_winters, not its 3.x name double_exponential_smoothing."""
    with pytest.raises(
        RuleError, match="unknown function with name 'double_exponential_smoothing'"
    ):
        compile_expr("double_exponential_smoothing(up[1h], 0.5, 0.5)", history=True)


def test_parse_error_is_reported() -> None:
    """A syntax error is a RuleError, never a crash."""
    with pytest.raises(RuleError, match="could not parse expression"):
        compile_expr("up >")


def test_unary_minus_on_vector() -> None:
    """-x negates values and drops the name."""
    assert [Sample(None, {"source": "s1"}, -1.0)] == [
        Sample(n, lb, v) for n, lb, v in run('-up{source="s1"}')
    ]


@pytest.mark.parametrize(
    ("expr", "at"),
    [
        ("up @ 100", 100_000),
        ("up @ -5", -5_000),  # the parser library alone would read 0
        ("up @ 0x10", 16_000),
        ("up @ 010", 8_000),  # Go's ParseInt(text, 0, 64): octal
        ("up @ 0.0005", 1),  # math.Round, half away from zero
        ("up @ start()", "start"),
        ("up @ end() offset 1m", "end"),
    ],
)
def test_at_modifier_times_are_read_as_prometheus_reads_them(expr: str, at: object) -> None:
    """Every @ spelling becomes Prometheus's millisecond timestamp."""
    node = compile_expr(expr, history=True)
    assert at == getattr(node, "at", None)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("up @ Inf", "timestamp out of bounds for @ modifier: +Inf"),
        ("up @ -Inf", "timestamp out of bounds for @ modifier: -Inf"),
        ("up @ NaN", "timestamp out of bounds for @ modifier: NaN"),
        ("up @ 1e19", "timestamp out of bounds for @ modifier: 10000000000000000000.000000"),
    ],
)
def test_at_modifier_out_of_range_is_prometheus_error(expr: str, message: str) -> None:
    """An @ time Prometheus refuses is refused with its message (Go's %f)."""
    with pytest.raises(
        RuleError, match="^could not parse expression: " + message.replace("+", r"\+")
    ):
        compile_expr(expr, history=True)


def test_atan2_keeps_the_metric_name() -> None:
    """atan2 is arithmetic with Go's Atan2, but keeps the name (2.42's shouldDropMetricName)."""
    assert [("up", {"source": "s1"}, math.atan2(1.0, 2.0))] == run('up{source="s1"} atan2 2')
