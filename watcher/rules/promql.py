"""The PromQL subset of docs/product.md: parsed by ``promql_parser``, checked and compiled here.

``compile_expr`` turns the parser's AST into small frozen nodes the evaluator walks. Every
construct outside the subset is rejected here, at load, with a message naming it, so an
evaluation never meets something it cannot do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NoReturn

import promql_parser as pp

from watcher.errors import RuleError
from watcher.matchers import Matcher

Kind = Literal["scalar", "vector"]

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


Node = Number | Selector | Negate | Binary | Aggregate | Call


def compile_expr(text: str) -> Node:
    """Parse and compile ``text``; raise RuleError naming the problem or unsupported construct."""
    try:
        tree = parse(text)
    except ValueError as exc:
        msg = f"could not parse expression: {exc}"
        raise RuleError(msg) from None
    return _compile(tree)


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


def _prepare(text: str) -> str:
    if not any(c in text for c in "`~"):
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":  # a comment runs to the end of the line
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        if c not in "\"'`":
            out.append(c)
            i += 1
            continue
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
        _unsupported(f"range vector selector {e.prettify()}")
    if isinstance(e, pp.SubqueryExpr):
        _unsupported("subquery")
    if isinstance(e, pp.StringLiteral):
        _unsupported(f"string literal {e}")
    _unsupported(type(e).__name__)


def _selector(e: pp.VectorSelector) -> Selector:
    if e.offset is not None:
        _unsupported("offset modifier")
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
    return Selector(name, tuple(matchers))


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
    name = e.func.name
    if name not in FUNCTIONS:
        _unsupported(f"function {name}()")
    kinds, _ = FUNCTIONS[name]
    args = tuple(_compile(a) for a in e.args)
    for arg, want in zip(args, kinds, strict=False):
        if arg.kind != want:
            msg = f"expected a {want} as argument of {name}(), got a {arg.kind}"
            raise RuleError(msg)
    absent: tuple[tuple[str, str], ...] = ()
    if name == "absent":
        absent = _absent_labels(e.args[0])
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
