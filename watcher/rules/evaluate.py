"""Evaluate compiled PromQL nodes at one instant, with Prometheus's semantics.

Samples keep the metric name apart from the other labels, so selecting a series never copies
its label mapping; operators that drop the name just set it to None. Behaviour follows
promql/engine.go and promql/functions.go of Prometheus 2.x (the version promtool here runs).

``@`` fixes the time a selector or subquery reads (``start()`` / ``end()``: the query's; a
rule's or an instant query's are both its evaluation time). A subquery evaluates its
expression at every multiple of its step in ``[t - offset - range, t - offset]`` (the step
defaults to the evaluation interval) and hands the results to its function as a range vector
(engine.go ``SubqueryExpr``: the first step is the first multiple at or after the start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from watcher.errors import RuleError
from watcher.matchers import Matcher
from watcher.rules import range as range_fn
from watcher.rules.aggregation import agg_add, agg_result, agg_start
from watcher.rules.binops import (
    ARITH,
    CMP,
    check_unique,
    set_op,
    vector_scalar,
    vector_vector,
)
from watcher.rules.gomath import go_ceil, go_div, go_floor, go_max, go_min
from watcher.rules.promql import (
    ARITHMETIC,
    COMPARISON,
    RANGE_FUNCTIONS,
    Aggregate,
    At,
    Binary,
    Call,
    Negate,
    Node,
    Number,
    RangeSelector,
    Selector,
    Subquery,
)
from watcher.rules.samples import Sample, SampleLike, Value, Vector, format_labels

__all__ = [
    "Evaluator",
    "HistoryQueryable",
    "Queryable",
    "Sample",
    "SampleLike",
    "Value",
    "Vector",
    "format_labels",
]

#: Prometheus's default global evaluation_interval: a subquery's step when it names none
DEFAULT_STEP_MS = 60_000
Series = tuple[str | None, Mapping[str, str], list[tuple[int, float]]]


class Queryable(Protocol):
    """Where selectors read series: the daemon's snapshot or a unit test's history."""

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        """Samples of every series named ``name`` (any name when None) matching ``matchers``."""
        ...


@runtime_checkable
class HistoryQueryable(Queryable, Protocol):
    """A source that keeps samples over time, so ``offset`` and range vectors can read it."""

    def select_at(
        self, name: str | None, matchers: Sequence[Matcher], at_ms: int
    ) -> Iterable[SampleLike]:
        """Like ``select``, as of ``at_ms`` (the 5-minute lookback before it)."""
        ...

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        """Each matching series' samples with start_ms <= t <= end_ms, stale markers left out."""
        ...


def _round(value: float, to_nearest: float) -> float:
    # Go: math.Floor(v*toNearestInverse+0.5) / toNearestInverse
    inverse = go_div(1.0, to_nearest)
    return go_div(go_floor(value * inverse + 0.5), inverse)


class Evaluator:
    """Evaluate nodes against ``source`` at ``time`` (Unix seconds).

    ``start`` / ``end`` are what ``@ start()`` / ``@ end()`` mean (default: ``time``);
    ``step_ms`` is a subquery's default step; ``now_ms`` is the time ``source.select``
    answers for (default: ``time``), any other time is read from the source's history.
    """

    def __init__(
        self,
        source: Queryable,
        time: float,
        *,
        start: float | None = None,
        end: float | None = None,
        step_ms: int = DEFAULT_STEP_MS,
        now_ms: int | None = None,
    ) -> None:
        self.source = source
        self.time = time
        self.ms = round(time * 1000)
        self.start_ms = self.ms if start is None else round(start * 1000)
        self.end_ms = self.ms if end is None else round(end * 1000)
        self.step_ms = step_ms
        self.now_ms = self.ms if now_ms is None else now_ms

    def vector(self, node: Node) -> Vector:
        """Evaluate an expression, giving a scalar result as a one-sample vector (as rules do)."""
        result = self.eval(node)
        if isinstance(result, float):
            return [Sample(None, {}, result)]
        return result

    def eval(self, node: Node) -> Value:
        """Evaluate one node."""
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Selector):
            at_ms = self._at(node.at) - node.offset_ms
            if at_ms == self.now_ms:
                return list(self.source.select(node.name, node.matchers))
            return list(self._history().select_at(node.name, node.matchers, at_ms))
        if isinstance(node, RangeSelector | Subquery):
            msg = "a range vector can only be a function argument"
            raise RuleError(msg)
        if isinstance(node, Negate):
            inner = self.eval(node.expr)
            if isinstance(inner, float):
                return -inner
            return check_unique([Sample(None, s.labels, -s.value) for s in inner], inner)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Aggregate):
            return self._aggregate(node)
        if node.func in RANGE_FUNCTIONS:
            return self._range_call(node)
        return self._call(node)

    def _at(self, at: At) -> int:
        if at is None:
            return self.ms
        if at == "start":
            return self.start_ms
        if at == "end":
            return self.end_ms
        return at

    def _history(self) -> HistoryQueryable:
        if not isinstance(self.source, HistoryQueryable):
            msg = (
                "range vectors, subqueries, offset and @ need sample history, "
                "which this source does not keep"
            )
            raise RuleError(msg)
        return self.source

    def matrix(self, node: Node) -> Iterable[Series]:
        """The series of a range vector expression (a range selector or a subquery)."""
        return self._matrix(node)[2]

    def _matrix(self, arg: Node) -> tuple[int, int, Iterable[Series]]:
        """A range vector argument: its window's start and end (ms) and its series."""
        if isinstance(arg, RangeSelector):
            sel = arg.selector
            end = self._at(sel.at) - sel.offset_ms
            start = end - arg.range_ms
            return start, end, self._history().select_range(sel.name, sel.matchers, start, end)
        assert isinstance(arg, Subquery)
        end = self._at(arg.at) - arg.offset_ms
        start = end - arg.range_ms
        return start, end, self._subquery(arg, start, end)

    def _subquery(self, node: Subquery, start: int, end: int) -> list[Series]:
        """``node.expr`` at each step in [start, end], as one series per label set."""
        step = node.step_ms or self.step_ms
        series: dict[tuple[str | None, tuple[tuple[str, str], ...]], Series] = {}
        t = -(-start // step) * step  # the first multiple of the step at or after start
        while t <= end:
            inner = Evaluator(self.source, t / 1000, step_ms=self.step_ms, now_ms=self.now_ms)
            inner.start_ms, inner.end_ms = self.start_ms, self.end_ms
            for s in inner.vector(node.expr):
                key = (s.name, tuple(sorted(s.labels.items())))
                found = series.get(key)
                if found is None:
                    found = series[key] = (s.name, s.labels, [])
                found[2].append((t, s.value))
            t += step
        return list(series.values())

    def _range_call(self, node: Call) -> Vector:
        """A function of a range vector, once per series with samples in the range."""
        index = 1 if node.func == "quantile_over_time" else 0
        scalars = [self._scalar(a) for i, a in enumerate(node.args) if i != index]
        start, end, matrix = self._matrix(node.args[index])
        keep_name = node.func == "last_over_time"  # it acts like an offset
        out: Vector = []
        source: Vector = []
        for name, labels, points in matrix:
            if not points:
                continue
            value = range_fn.apply(node.func, points, scalars, start, end, self.ms)
            if value is not None:
                out.append(Sample(name if keep_name else None, labels, value))
                source.append(Sample(name, labels, value))
        if node.func == "absent_over_time":
            return [] if out else [Sample(None, dict(node.absent_labels), 1.0)]
        return out if keep_name else check_unique(out, source)

    def _scalar(self, node: Node) -> float:
        value = self.eval(node)
        assert isinstance(value, float)
        return value

    def _binary(self, node: Binary) -> Value:
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        op = node.op
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in ARITHMETIC:
                return ARITH[op](lhs, rhs)
            return 1.0 if CMP[op](lhs, rhs) else 0.0
        if isinstance(lhs, float) or isinstance(rhs, float):
            out = vector_scalar(node, lhs, rhs)
            if (node.op in COMPARISON and not node.return_bool) or node.op == "atan2":
                return out  # a filter (and atan2) keeps names: nothing can collide
            return check_unique(out, lhs if isinstance(lhs, list) else rhs)  # type: ignore[arg-type]
        if op in ("and", "or", "unless"):
            return set_op(node, lhs, rhs)
        return check_unique(vector_vector(node, lhs, rhs), lhs)

    def _aggregate(self, node: Aggregate) -> Vector:
        vec = self.eval(node.expr)
        assert isinstance(vec, list)
        groups: dict[tuple[tuple[str, str], ...], list[float]] = {}
        keys: dict[tuple[tuple[str, str], ...], tuple[str | None, dict[str, str]]] = {}
        names = set(node.labels)
        for s in vec:
            if node.without:
                labels = {k: v for k, v in s.labels.items() if k not in names}
                name = None
            else:
                labels = {k: v for k, v in s.labels.items() if k in names and v}
                name = s.name if "__name__" in names else None
            key = tuple(sorted(labels.items()))
            if name is not None:
                key = (("__name__", name), *key)
            acc = groups.get(key)
            if acc is None:
                keys[key] = (name, labels)
                groups[key] = agg_start(node.op, s.value)
            else:
                agg_add(node.op, acc, s.value)
        return [
            Sample(keys[k][0], keys[k][1], agg_result(node.op, acc)) for k, acc in groups.items()
        ]

    def _call(self, node: Call) -> Value:
        f = node.func
        if f == "time":
            return self.time
        if f == "vector":
            return [Sample(None, {}, self._scalar(node.args[0]))]
        vec = self.eval(node.args[0])
        assert isinstance(vec, list)
        if f == "absent":
            return [] if vec else [Sample(None, dict(node.absent_labels), 1.0)]
        fn: Callable[[float], float]
        if f == "abs":
            fn = abs
        elif f == "ceil":
            fn = go_ceil
        elif f == "floor":
            fn = go_floor
        else:
            arg = self._scalar(node.args[1]) if len(node.args) > 1 else 1.0
            if f == "round":
                fn = lambda v: _round(v, arg)  # noqa: E731
            elif f == "clamp_min":
                fn = lambda v: go_max(arg, v)  # noqa: E731
            else:
                fn = lambda v: go_min(arg, v)  # noqa: E731
        return check_unique([Sample(None, s.labels, fn(s.value)) for s in vec], vec)
