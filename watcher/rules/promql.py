"""The PromQL subset of docs/product.md: parsed by ``promql_parser``, checked and compiled here.

``compile_expr`` turns the parser's AST (read by ``watcher.rules.pqlparse``) into small frozen
nodes the evaluator walks. Every construct outside the subset is rejected here, at load, with
a message naming it, so an evaluation never meets something it cannot do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, NoReturn

import promql_parser as pp

from watcher.errors import RuleError
from watcher.matchers import Matcher
from watcher.rules.pqlparse import parse, parse_expr, regex_value

__all__ = ["At", "Node", "compile_expr", "parse", "regex_value"]

Kind = Literal["scalar", "vector", "matrix"]
#: an ``@`` modifier: a time in Unix ms, the query's start() or end(), or None (none given)
At = int | Literal["start", "end"] | None

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
COMPARISON = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "count"})
# name -> (argument kinds, how many trailing arguments may be left out)
FUNCTIONS: dict[str, tuple[tuple[Kind, ...], int]] = {
    "time": ((), 0),
    "vector": (("scalar",), 0),
    "absent": (("vector",), 0),
    "abs": (("vector",), 0),
    "ceil": (("vector",), 0),
    "floor": (("vector",), 0),
    "round": (("vector", "scalar"), 1),
    "clamp_min": (("vector", "scalar"), 0),
    "clamp_max": (("vector", "scalar"), 0),
}
# functions of a range vector (they need sample history; see compile_expr's ``history``)
_OF_RANGE = (
    "rate", "increase", "delta", "irate", "idelta", "deriv", "changes", "resets",
    "avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "count_over_time",
    "last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time",
    "absent_over_time",
)  # fmt: skip
RANGE_FUNCTIONS: dict[str, tuple[Kind, ...]] = {
    **dict.fromkeys(_OF_RANGE, ("matrix",)),
    "predict_linear": ("matrix", "scalar"),
    "quantile_over_time": ("scalar", "matrix"),
    "holt_winters": ("matrix", "scalar", "scalar"),
}


@dataclass(frozen=True, slots=True)
class Number:
    """A number literal."""

    value: float
    kind: Kind = "scalar"


@dataclass(frozen=True, slots=True)
class Selector:
    """An instant vector selector; ``name`` is set when the metric name is fixed by ``=``."""

    name: str | None
    matchers: tuple[Matcher, ...]
    kind: Kind = "vector"
    offset_ms: int = 0
    at: At = None


@dataclass(frozen=True, slots=True)
class RangeSelector:
    """``selector[range]``: the samples of the last ``range_ms`` (before the offset)."""

    selector: Selector
    range_ms: int
    kind: Kind = "matrix"


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    expr: Node
    kind: Kind


@dataclass(frozen=True, slots=True)
class Binary:
    """``lhs op rhs`` and modifiers; ``on`` is None when neither on() nor ignoring() is given."""

    op: str
    lhs: Node
    rhs: Node
    kind: Kind
    return_bool: bool = False
    on: bool | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``op by|without (labels) (expr)``; ``without`` False with no labels aggregates everything."""

    op: str
    expr: Node
    without: bool
    labels: tuple[str, ...]
    kind: Kind = "vector"


@dataclass(frozen=True, slots=True)
class Call:
    """A call of one of ``FUNCTIONS``; ``absent_labels`` are precomputed for ``absent()``."""

    func: str
    args: tuple[Node, ...]
    kind: Kind
    absent_labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Subquery:
    """``expr[range:step] offset @``: ``expr`` at every multiple of the step in the range;
    ``step_ms`` 0 means the evaluation interval."""

    expr: Node
    range_ms: int
    step_ms: int = 0
    offset_ms: int = 0
    at: At = None
    kind: Kind = "matrix"


Node = Number | Selector | RangeSelector | Subquery | Negate | Binary | Aggregate | Call


def compile_expr(text: str, *, history: bool = False, matrix: bool = False) -> Node:
    """Parse and compile ``text``; raise RuleError naming the problem or unsupported construct.

    Range vectors and ``offset`` read samples of the past; they compile only with ``history``,
    for a source that keeps samples over time (the daemon's ``watcher.history``, a unit test's
    input series). A range vector result (``x[5m]``) is accepted only with ``matrix``: an
    instant query may return one, a rule may not.
    """
    try:
        parsed = parse_expr(text)
    except ValueError as exc:
        msg = f"could not parse expression: {exc}"
        raise RuleError(msg) from None
    node = _Compiler(parsed.at_ms).compile(parsed.tree)
    if node.kind == "matrix" and not matrix:
        msg = "a rule expression must be a vector or a scalar, not a range vector"
        raise RuleError(msg)
    if not history:
        past = _reads_past(node)
        if past is not None:
            msg = f"{past} needs sample history, which this evaluation does not keep"
            raise RuleError(msg)
    return node


def _reads_past(node: Node) -> str | None:
    """What in ``node`` reads past samples (a range selector, subquery, offset or @)."""
    if isinstance(node, RangeSelector):
        return "range vector selector"
    if isinstance(node, Subquery):
        return "subquery"
    if isinstance(node, Selector):
        if node.at is not None:
            return "@ modifier"
        return "offset modifier" if node.offset_ms else None
    children: tuple[Node, ...] = ()
    if isinstance(node, Negate | Aggregate):
        children = (node.expr,)
    elif isinstance(node, Binary):
        children = (node.lhs, node.rhs)
    elif isinstance(node, Call):
        children = node.args
    for child in children:
        found = _reads_past(child)
        if found is not None:
            return found
    return None


def _unsupported(what: str) -> NoReturn:
    msg = f"{what} is not supported by watcher's PromQL subset"
    raise RuleError(msg)


class _Compiler:
    """Compiles one parsed expression; ``at_ms`` are its ``@`` times (see pqlparse)."""

    def __init__(self, at_ms: list[int]) -> None:
        self.at_ms = at_ms

    def compile(self, e: object) -> Node:
        if isinstance(e, pp.ParenExpr):
            return self.compile(e.expr)
        if isinstance(e, pp.NumberLiteral):
            return Number(float(e.val))
        if isinstance(e, pp.VectorSelector):
            return self.selector(e)
        if isinstance(e, pp.UnaryExpr):
            inner = self.compile(e.expr)
            if isinstance(inner, Number):
                return Number(-inner.value)
            return Negate(inner, inner.kind)
        if isinstance(e, pp.BinaryExpr):
            return self.binary(e)
        if isinstance(e, pp.AggregateExpr):
            return self.aggregate(e)
        if isinstance(e, pp.Call):
            return self.call(e)
        if isinstance(e, pp.MatrixSelector):
            return RangeSelector(self.selector(e.vector_selector), _ms(e.range))
        if isinstance(e, pp.SubqueryExpr):
            step = _ms(e.step) if e.step is not None else 0
            offset = _ms(e.offset) if e.offset is not None else 0
            span = _ms(e.range or timedelta())
            return Subquery(self.compile(e.expr), span, step, offset, self.at(e.at))
        if isinstance(e, pp.StringLiteral):
            _unsupported(f"string literal {e}")
        _unsupported(type(e).__name__)

    def at(self, modifier: pp.AtModifier | None) -> At:
        if modifier is None:
            return None
        if modifier.type == pp.AtModifierType.Start:
            return "start"
        if modifier.type == pp.AtModifierType.End:
            return "end"
        # pqlparse replaced the number by its 1-based index in at_ms (a small positive time)
        index = round(modifier.at.timestamp())  # type: ignore[union-attr]
        return self.at_ms[index - 1]

    def selector(self, e: pp.VectorSelector) -> Selector:
        offset_ms = _ms(e.offset) if e.offset is not None else 0
        if e.matchers.or_matchers:
            _unsupported('"or" inside a selector')
        name: str | None = e.name
        matchers: list[Matcher] = []
        for m in e.matchers.matchers:
            op = _match_op(m.op)
            if m.name == "__name__" and op == "=" and name is None:
                name = m.value
                continue
            try:
                # Prometheus 2.42 anchors a selector regex as ^(?:re)$, so "." does not match a
                # newline (model/labels/regexp.go; DotNL came with Prometheus 3)
                matchers.append(Matcher.make(m.name, op, regex_value(m.value)))
            except ValueError as exc:
                raise RuleError(str(exc)) from None
        return Selector(name, tuple(matchers), offset_ms=offset_ms, at=self.at(e.at))

    def binary(self, e: pp.BinaryExpr) -> Binary:
        op = str(e.op).lower()
        if op not in ARITHMETIC | COMPARISON | SET_OPS:
            _unsupported(f"binary operator {op}")
        mod = e.modifier
        if mod is not None:
            if mod.card in (
                pp.VectorMatchCardinality.ManyToOne,
                pp.VectorMatchCardinality.OneToMany,
            ):
                left = mod.card == pp.VectorMatchCardinality.ManyToOne
                _unsupported(f"{'group_left' if left else 'group_right'} modifier")
            fill = mod.fill_values
            if fill is not None and (fill.lhs is not None or fill.rhs is not None):
                _unsupported("fill modifier")
        lhs, rhs = self.compile(e.lhs), self.compile(e.rhs)
        kind: Kind = "scalar" if lhs.kind == rhs.kind == "scalar" else "vector"
        on, labels = _modifier_labels(mod)
        return_bool = bool(mod is not None and mod.return_bool)
        return Binary(op, lhs, rhs, kind, return_bool, on, labels)

    def aggregate(self, e: pp.AggregateExpr) -> Aggregate:
        op = str(e.op).lower()
        if op not in AGGREGATIONS:
            _unsupported(f"aggregation {op}")
        inner = self.compile(e.expr)
        mod = e.modifier
        if mod is None:
            return Aggregate(op, inner, without=False, labels=(), kind="vector")
        without = mod.type == pp.AggModifierType.Without
        return Aggregate(op, inner, without, tuple(mod.labels))

    def call(self, e: pp.Call) -> Call:
        name = "holt_winters" if e.func.name == "double_exponential_smoothing" else e.func.name
        if name in RANGE_FUNCTIONS:
            kinds = RANGE_FUNCTIONS[name]
        elif name in FUNCTIONS:
            kinds = FUNCTIONS[name][0]
        else:
            _unsupported(f"function {name}()")
        args = tuple(self.compile(a) for a in e.args)
        for arg, want in zip(args, kinds, strict=False):
            if arg.kind != want:
                msg = f"expected a {want} as argument of {name}(), got a {arg.kind}"
                raise RuleError(msg)
        absent: tuple[tuple[str, str], ...] = ()
        if name in ("absent", "absent_over_time"):
            arg0 = e.args[0]
            absent = _absent_labels(
                arg0.vector_selector if isinstance(arg0, pp.MatrixSelector) else arg0
            )
        kind: Kind = "scalar" if name == "time" else "vector"
        return Call(name, args, kind, absent)


def _ms(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _match_op(op: object) -> str:
    if op == pp.MatchOp.Equal:
        return "="
    if op == pp.MatchOp.NotEqual:
        return "!="
    if op == pp.MatchOp.NotRe:
        return "!~"
    return "=~"


def _modifier_labels(mod: pp.BinModifier | None) -> tuple[bool | None, tuple[str, ...]]:
    if mod is None or mod.matching is None:
        return None, ()
    on = mod.matching.type == pp.LabelModifierType.Include
    return on, tuple(mod.matching.labels)


def _absent_labels(arg: object) -> tuple[tuple[str, str], ...]:
    """Labels of ``absent(selector)``: the selector's equality matchers, Prometheus's way.

    A label named by more than one matcher, or by a non-equality matcher, is left out
    (promql/functions.go createLabelsForAbsentFunction).
    """
    if not isinstance(arg, pp.VectorSelector):
        return ()
    out: dict[str, str] = {}
    seen: set[str] = set()
    for m in arg.matchers.matchers:
        if m.name == "__name__":
            continue
        if m.op == pp.MatchOp.Equal and m.name not in seen:
            out[m.name] = m.value
            seen.add(m.name)
        else:
            out.pop(m.name, None)
    return tuple(sorted((k, v) for k, v in out.items() if v))


def is_finite(value: float) -> bool:
    """Whether ``value`` is neither NaN nor infinite."""
    return not (math.isnan(value) or math.isinf(value))
