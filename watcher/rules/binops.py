"""Binary operators between vectors and scalars, and vector matching, as Prometheus 2.42.

Arithmetic is Go's float arithmetic (division by zero gives ±Inf or NaN, ``%`` is ``math.Mod``,
``^`` is ``math.Pow``); vector matching follows promql/engine.go ``VectorBinop`` / ``VectorAnd``
/ ``VectorOr`` / ``VectorUnless`` with its error messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from watcher.errors import RuleError
from watcher.rules.gomath import go_atan2, go_div, go_pow
from watcher.rules.promql import ARITHMETIC, Binary
from watcher.rules.samples import Sample, SampleLike, Vector, format_labels

#: the operators whose result drops the metric name (engine.go shouldDropMetricName): every
#: arithmetic one but atan2, which Prometheus 2.42 leaves out of that list
DROPS_NAME = ARITHMETIC - {"atan2"}


def _mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": go_div,
    "%": _mod,
    "^": go_pow,
    "atan2": go_atan2,
}
CMP: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def check_unique(vec: Vector, source: Vector) -> Vector:
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


def _signature(
    s: SampleLike, on: bool | None, names: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    if on:
        items = [(k, v) for k, v in s.labels.items() if k in names]
        if "__name__" in names and s.name is not None:
            items.append(("__name__", s.name))
        return tuple(sorted(items))
    return tuple(sorted((k, v) for k, v in s.labels.items() if k not in names))


def set_op(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    names = frozenset(node.labels)
    if node.op == "and":
        right = {_signature(s, node.on, names) for s in rhs}
        return [s for s in lhs if _signature(s, node.on, names) in right]
    if node.op == "unless":
        right = {_signature(s, node.on, names) for s in rhs}
        return [s for s in lhs if _signature(s, node.on, names) not in right]
    left = {_signature(s, node.on, names) for s in lhs}
    return lhs + [s for s in rhs if _signature(s, node.on, names) not in left]


def vector_vector(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
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
            value = ARITH[op](ls.value, rs.value)
        else:
            keep = CMP[op](ls.value, rs.value)
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
        name = None if op in DROPS_NAME or node.return_bool else ls.name
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


def vector_scalar(node: Binary, lhs: float | Vector, rhs: float | Vector) -> Vector:
    """``vector op scalar`` or ``scalar op vector``: arithmetic drops the name, a comparison
    filters (or gives 0/1 with ``bool``)."""
    swap = isinstance(lhs, float)
    vec, scalar = (rhs, lhs) if swap else (lhs, rhs)
    assert isinstance(vec, list)
    assert isinstance(scalar, float)
    op = node.op
    out: Vector = []
    if op in ARITHMETIC:
        f = ARITH[op]
        for s in vec:
            value = f(scalar, s.value) if swap else f(s.value, scalar)
            out.append(Sample(None if op in DROPS_NAME else s.name, s.labels, value))
        return out
    cmp = CMP[op]
    for s in vec:
        keep = cmp(scalar, s.value) if swap else cmp(s.value, scalar)
        if node.return_bool:
            out.append(Sample(None, s.labels, 1.0 if keep else 0.0))
        elif keep:
            out.append(s)
    return out
