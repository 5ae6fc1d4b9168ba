"""Evaluate compiled PromQL nodes at one instant, with Prometheus's semantics.

Samples keep the metric name apart from the other labels, so selecting a series never copies
its label mapping; operators that drop the name just set it to None. Behaviour follows
promql/engine.go and promql/functions.go of Prometheus 2.x (the version promtool here runs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from watcher.errors import RuleError
from watcher.matchers import Matcher
from watcher.rules import range as range_fn
from watcher.rules.gofmt import go_quote
from watcher.rules.gomath import go_ceil, go_floor, go_max, go_min, go_pow
from watcher.rules.promql import (
    ARITHMETIC,
    COMPARISON,
    RANGE_FUNCTIONS,
    Aggregate,
    Binary,
    Call,
    Negate,
    Node,
    Number,
    RangeSelector,
    Selector,
)


class Sample(NamedTuple):
    """One element of an instant vector: metric name (None once dropped), labels, value."""

    name: str | None
    labels: Mapping[str, str]
    value: float


class SampleLike(Protocol):
    """A read-only sample: ``Sample``, or a snapshot ``Series`` selected without a copy."""

    @property
    def name(self) -> str | None:
        """Metric name, None once dropped."""
        ...

    @property
    def labels(self) -> Mapping[str, str]:
        """Labels without the name."""
        ...

    @property
    def value(self) -> float:
        """The value."""
        ...


Vector = list[SampleLike]
Value = float | Vector


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


def format_labels(name: str | None, labels: Mapping[str, str]) -> str:
    """Render a label set the way Prometheus prints it: ``{__name__="x", job="a"}``."""
    items = dict(labels)
    if name is not None:
        items["__name__"] = name
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(items.items())) + "}"


def _div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "%": _mod,
    "^": go_pow,
}
_CMP: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _round(value: float, to_nearest: float) -> float:
    # Go: math.Floor(v*toNearestInverse+0.5) / toNearestInverse
    inverse = _div(1.0, to_nearest)
    return _div(go_floor(value * inverse + 0.5), inverse)


def _check_unique(vec: Vector, source: Vector) -> Vector:
    """Fail like Prometheus when dropping metric names made two samples identical.

    Only possible when ``source`` held several metric names, so the common case costs one pass.
    """
    if len({s.name for s in source}) <= 1:
        return vec
    seen: set[tuple[str | None, tuple[tuple[str, str], ...]]] = set()
    for s in vec:
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            msg = "vector cannot contain metrics with the same labelset"
            raise RuleError(msg)
        seen.add(key)
    return vec


class Evaluator:
    """Evaluate nodes against ``source`` at ``time`` (Unix seconds)."""

    def __init__(self, source: Queryable, time: float) -> None:
        self.source = source
        self.time = time
        self.ms = round(time * 1000)

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
            if node.offset_ms:
                at_ms = self.ms - node.offset_ms
                return list(self._history().select_at(node.name, node.matchers, at_ms))
            return list(self.source.select(node.name, node.matchers))
        if isinstance(node, RangeSelector):
            msg = "a range vector can only be a function argument"
            raise RuleError(msg)
        if isinstance(node, Negate):
            inner = self.eval(node.expr)
            if isinstance(inner, float):
                return -inner
            return _check_unique([Sample(None, s.labels, -s.value) for s in inner], inner)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Aggregate):
            return self._aggregate(node)
        if node.func in RANGE_FUNCTIONS:
            return self._range_call(node)
        return self._call(node)

    def _history(self) -> HistoryQueryable:
        if not isinstance(self.source, HistoryQueryable):
            msg = "range vectors and offset need sample history, which this source does not keep"
            raise RuleError(msg)
        return self.source

    def _range_call(self, node: Call) -> Vector:
        """A function of a range vector, once per series with samples in the range."""
        at = 1 if node.func == "quantile_over_time" else 0
        rs = node.args[at]
        assert isinstance(rs, RangeSelector)
        scalars = [self._scalar(a) for i, a in enumerate(node.args) if i != at]
        end = self.ms - rs.selector.offset_ms
        start = end - rs.range_ms
        keep_name = node.func == "last_over_time"  # it acts like an offset
        out: Vector = []
        source: Vector = []
        for name, labels, points in self._history().select_range(
            rs.selector.name, rs.selector.matchers, start, end
        ):
            if not points:
                continue
            value = range_fn.apply(node.func, points, scalars, start, end, self.ms)
            if value is not None:
                out.append(Sample(name if keep_name else None, labels, value))
                source.append(Sample(name, labels, value))
        if node.func == "absent_over_time":
            return [] if out else [Sample(None, dict(node.absent_labels), 1.0)]
        return out if keep_name else _check_unique(out, source)

    def _scalar(self, node: Node) -> float:
        value = self.eval(node)
        assert isinstance(value, float)
        return value

    def _binary(self, node: Binary) -> Value:
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        op = node.op
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in ARITHMETIC:
                return _ARITH[op](lhs, rhs)
            return 1.0 if _CMP[op](lhs, rhs) else 0.0
        if isinstance(lhs, float) or isinstance(rhs, float):
            out = self._vector_scalar(node, lhs, rhs)
            if node.op in COMPARISON and not node.return_bool:
                return out  # a filter keeps names: nothing can collide
            return _check_unique(out, lhs if isinstance(lhs, list) else rhs)  # type: ignore[arg-type]
        if op in ("and", "or", "unless"):
            return _set_op(node, lhs, rhs)
        return _check_unique(_vector_vector(node, lhs, rhs), lhs)

    @staticmethod
    def _vector_scalar(node: Binary, lhs: Value, rhs: Value) -> Vector:
        swap = isinstance(lhs, float)
        vec, scalar = (rhs, lhs) if swap else (lhs, rhs)
        assert isinstance(vec, list)
        assert isinstance(scalar, float)
        op = node.op
        out: Vector = []
        if op in ARITHMETIC:
            f = _ARITH[op]
            for s in vec:
                value = f(scalar, s.value) if swap else f(s.value, scalar)
                out.append(Sample(None, s.labels, value))
            return out
        cmp = _CMP[op]
        for s in vec:
            keep = cmp(scalar, s.value) if swap else cmp(s.value, scalar)
            if node.return_bool:
                out.append(Sample(None, s.labels, 1.0 if keep else 0.0))
            elif keep:
                out.append(s)
        return out

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
                groups[key] = _agg_start(node.op, s.value)
            else:
                _agg_add(node.op, acc, s.value)
        return [
            Sample(keys[k][0], keys[k][1], _agg_result(node.op, acc)) for k, acc in groups.items()
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
        return _check_unique([Sample(None, s.labels, fn(s.value)) for s in vec], vec)


def _agg_start(op: str, value: float) -> list[float]:
    # [value, count, mean]: avg is the mean, the rest keep their result in value
    return [1.0 if op == "count" else value, 1.0, value]


def _agg_add(op: str, acc: list[float], value: float) -> None:
    acc[1] += 1
    if op == "sum":
        acc[0] += value
    elif op == "avg":
        _running_mean(acc, value)
    elif op == "count":
        acc[0] += 1
    elif op == "min":
        if acc[0] > value or math.isnan(acc[0]):
            acc[0] = value
    elif acc[0] < value or math.isnan(acc[0]):
        acc[0] = value


def _running_mean(acc: list[float], value: float) -> None:
    """Prometheus 2.42's incremental mean (promql/engine.go aggregation, case AVG)."""
    mean, n = acc[2], acc[1]
    if math.isinf(mean):
        if math.isinf(value) and (mean > 0) == (value > 0):
            return
        if not math.isinf(value) and not math.isnan(value):
            return
    # each side of the "-" divided by n to avoid overflow, exactly as Prometheus writes it
    acc[2] = mean + (value / n - mean / n)


def _agg_result(op: str, acc: list[float]) -> float:
    return acc[2] if op == "avg" else acc[0]


def _signature(
    s: SampleLike, on: bool | None, names: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    if on:
        items = [(k, v) for k, v in s.labels.items() if k in names]
        if "__name__" in names and s.name is not None:
            items.append(("__name__", s.name))
        return tuple(sorted(items))
    return tuple(sorted((k, v) for k, v in s.labels.items() if k not in names))


def _set_op(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    names = frozenset(node.labels)
    if node.op == "and":
        right = {_signature(s, node.on, names) for s in rhs}
        return [s for s in lhs if _signature(s, node.on, names) in right]
    if node.op == "unless":
        right = {_signature(s, node.on, names) for s in rhs}
        return [s for s in lhs if _signature(s, node.on, names) not in right]
    left = {_signature(s, node.on, names) for s in lhs}
    return lhs + [s for s in rhs if _signature(s, node.on, names) not in left]


def _vector_vector(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if not lhs or not rhs:
        return []  # nothing can match: Prometheus returns before checking either side
    names = frozenset(node.labels)
    right: dict[tuple[tuple[str, str], ...], SampleLike] = {}
    for rs in rhs:
        sig = _signature(rs, node.on, names)
        dup = right.get(sig)
        if dup is not None:
            group = format_labels(None, dict(sig))
            msg = (
                f"found duplicate series for the match group {group} on the right hand-side of the "
                f"operation: [{format_labels(rs.name, rs.labels)}, "
                f"{format_labels(dup.name, dup.labels)}]"
                ";many-to-many matching not allowed: matching labels must be unique on one side"
            )
            raise RuleError(msg)
        right[sig] = rs
    op = node.op
    out: Vector = []
    matched: set[tuple[tuple[str, str], ...]] = set()
    arith = op in ARITHMETIC
    for ls in lhs:
        sig = _signature(ls, node.on, names)
        match = right.get(sig)
        if match is None:
            continue
        rs = match
        if arith:
            value = _ARITH[op](ls.value, rs.value)
        else:
            keep = _CMP[op](ls.value, rs.value)
            if node.return_bool:
                value = 1.0 if keep else 0.0
            elif keep:
                value = ls.value
            else:
                continue
        if sig in matched:
            msg = (
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
            raise RuleError(msg)
        matched.add(sig)
        name = None if arith or node.return_bool else ls.name
        labels: Mapping[str, str] = ls.labels
        if node.on is True:
            labels = {k: v for k, v in ls.labels.items() if k in names}
            if "__name__" not in names:
                name = None
        elif node.on is False and names:
            labels = {k: v for k, v in ls.labels.items() if k not in names}
            if "__name__" in names:
                name = None
        out.append(Sample(name, labels, value))
    return out
