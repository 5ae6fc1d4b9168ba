"""The PromQL subset of docs/product.md: parsed by ``promql_parser``, checked and compiled here.

``compile_expr`` turns the parser's AST into small frozen nodes the evaluator walks. Every
construct outside the subset is rejected here, at load, with a message naming it, so an
evaluation never meets something it cannot do.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, NoReturn

import promql_parser as pp

from watcher.errors import RuleError
from watcher.matchers import Matcher

Kind = Literal["scalar", "vector", "matrix"]

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^"})
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


Node = Number | Selector | RangeSelector | Negate | Binary | Aggregate | Call


def compile_expr(text: str, *, history: bool = False) -> Node:
    """Parse and compile ``text``; raise RuleError naming the problem or unsupported construct.

    Range vectors and ``offset`` read samples of the past; they compile only with ``history``,
    for a source that keeps samples over time (the daemon's ``watcher.history``, a unit test's
    input series).
    """
    try:
        tree = parse(text)
    except ValueError as exc:
        msg = f"could not parse expression: {exc}"
        raise RuleError(msg) from None
    node = _compile(tree)
    if node.kind == "matrix":
        msg = "a rule expression must be a vector or a scalar, not a range vector"
        raise RuleError(msg)
    if not history:
        past = _reads_past(node)
        if past is not None:
            msg = f"{past} needs sample history, which this evaluation does not keep"
            raise RuleError(msg)
    return node


def _reads_past(node: Node) -> str | None:
    """What in ``node`` reads past samples (a range selector or an offset), if anything."""
    if isinstance(node, RangeSelector):
        return "range vector selector"
    if isinstance(node, Selector):
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


def parse(text: str) -> pp.Expr:
    """``promql_parser.parse``, with PromQL's strings kept as Prometheus reads them.

    Two differences of the parser library are worked around before it sees the text: it
    unescapes a backtick string like a double-quoted one (in PromQL `\\d` is a backslash and
    a d), and it checks a regex with Rust's syntax, which refuses RE2's ``\\Q...\\E``. So
    each raw string is re-quoted, and each regex after ``=~`` / ``!~`` is hidden in a
    placeholder that ``regex_value`` decodes; ``watcher.regex`` then compiles it as RE2.
    Raise ValueError when the text is not valid PromQL.
    """
    return pp.parse(_prepare(text))


_REGEX_MARK = "__watcher_re2_"


def regex_value(value: str) -> str:
    """The regex a matcher value placeholder of ``parse`` stands for (other values unchanged)."""
    if value.startswith(_REGEX_MARK) and value.endswith("__"):
        return bytes.fromhex(value[len(_REGEX_MARK) : -2]).decode("utf-8")
    return value


def _string_end(text: str, i: int) -> int:
    """Index just past the string literal starting at ``text[i]``."""
    quote, j, n = text[i], i + 1, len(text)
    while j < n and text[j] != quote:
        j += 2 if text[j] == "\\" and quote != "`" else 1
    return j + 1


# Prometheus 2.42's holt_winters is the parser library's double_exponential_smoothing (its
# Prometheus 3 name, which 2.42 does not know)
_HOLT_WINTERS = re.compile(r"\bholt_winters\b")
_NEW_NAME = re.compile(r"\bdouble_exponential_smoothing\b")


def _code(chunk: str) -> str:
    if _NEW_NAME.search(chunk):
        msg = "unknown function with name 'double_exponential_smoothing'"
        raise ValueError(msg)
    return _HOLT_WINTERS.sub("double_exponential_smoothing", chunk)


def _prepare(text: str) -> str:
    if not any(c in text for c in "`~_"):
        return text
    out: list[str] = []
    code: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":  # a comment runs to the end of the line
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(_code("".join(code)) + text[i:j])
            code = []
            i = j
            continue
        if c not in "\"'`":
            code.append(c)
            i += 1
            continue
        out.append(_code("".join(code)))
        code = []
        j = _string_end(text, i)
        literal = text[i:j]
        if j > n:  # unterminated: the parser reports it
            out.append(literal)
            break
        if c == "`":
            value = literal[1:-1]
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            literal = f'"{escaped}"'
        if "".join(out).rstrip().endswith(("=~", "!~")):
            value = value if c == "`" else str(pp.parse(literal).val)  # type: ignore[attr-defined]
            literal = f'"{_REGEX_MARK}{value.encode("utf-8").hex()}__"'
        out.append(literal)
        i = j
    out.append(_code("".join(code)))
    return "".join(out)


def _unsupported(what: str) -> NoReturn:
    msg = f"{what} is not supported by watcher's PromQL subset"
    raise RuleError(msg)


def _compile(e: object) -> Node:
    if isinstance(e, pp.ParenExpr):
        return _compile(e.expr)
    if isinstance(e, pp.NumberLiteral):
        return Number(float(e.val))
    if isinstance(e, pp.VectorSelector):
        return _selector(e)
    if isinstance(e, pp.UnaryExpr):
        inner = _compile(e.expr)
        if isinstance(inner, Number):
            return Number(-inner.value)
        return Negate(inner, inner.kind)
    if isinstance(e, pp.BinaryExpr):
        return _binary(e)
    if isinstance(e, pp.AggregateExpr):
        return _aggregate(e)
    if isinstance(e, pp.Call):
        return _call(e)
    if isinstance(e, pp.MatrixSelector):
        return RangeSelector(_selector(e.vector_selector), _ms(e.range))
    if isinstance(e, pp.SubqueryExpr):
        _unsupported("subquery")
    if isinstance(e, pp.StringLiteral):
        _unsupported(f"string literal {e}")
    _unsupported(type(e).__name__)


def _ms(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _selector(e: pp.VectorSelector) -> Selector:
    offset_ms = _ms(e.offset) if e.offset is not None else 0
    if e.at is not None:
        _unsupported("@ modifier")
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
            # Prometheus 2.42 anchors a selector regex as ^(?:re)$, so "." does not match a newline
            # (model/labels/regexp.go; DotNL came with Prometheus 3)
            matchers.append(Matcher.make(m.name, op, regex_value(m.value)))
        except ValueError as exc:
            raise RuleError(str(exc)) from None
    return Selector(name, tuple(matchers), offset_ms=offset_ms)


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


def _binary(e: pp.BinaryExpr) -> Binary:
    op = str(e.op).lower()
    if op not in ARITHMETIC | COMPARISON | SET_OPS:
        _unsupported(f"binary operator {op}")
    mod = e.modifier
    if mod is not None:
        if mod.card in (pp.VectorMatchCardinality.ManyToOne, pp.VectorMatchCardinality.OneToMany):
            side = (
                "group_left" if mod.card == pp.VectorMatchCardinality.ManyToOne else "group_right"
            )
            _unsupported(f"{side} modifier")
        fill = mod.fill_values
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            _unsupported("fill modifier")
    lhs, rhs = _compile(e.lhs), _compile(e.rhs)
    kind: Kind = "scalar" if lhs.kind == rhs.kind == "scalar" else "vector"
    on, labels = _modifier_labels(mod)
    return_bool = bool(mod is not None and mod.return_bool)
    return Binary(op, lhs, rhs, kind, return_bool, on, labels)


def _aggregate(e: pp.AggregateExpr) -> Aggregate:
    op = str(e.op).lower()
    if op not in AGGREGATIONS:
        _unsupported(f"aggregation {op}")
    inner = _compile(e.expr)
    mod = e.modifier
    if mod is None:
        return Aggregate(op, inner, without=False, labels=(), kind="vector")
    without = mod.type == pp.AggModifierType.Without
    return Aggregate(op, inner, without, tuple(mod.labels))


def _call(e: pp.Call) -> Call:
    name = "holt_winters" if e.func.name == "double_exponential_smoothing" else e.func.name
    if name in RANGE_FUNCTIONS:
        kinds = RANGE_FUNCTIONS[name]
    elif name in FUNCTIONS:
        kinds = FUNCTIONS[name][0]
    else:
        _unsupported(f"function {name}()")
    args = tuple(_compile(a) for a in e.args)
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
