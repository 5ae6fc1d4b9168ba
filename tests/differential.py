"""Differential testing of the rule engine against promtool: generators, runner, comparison.

Hypothesis draws test groups (input series and expressions inside the documented PromQL
subset: subqueries, ``offset`` and ``@`` included); every group goes into ONE promtool test
file, which both ``promtool test rules`` and ``watcher rules test`` run, with one rule file
(``RULES``: recording rules, one reading another's result of the same evaluation, and an
alerting rule) whose recorded series and ``ALERTS`` / ``ALERTS_FOR_STATE`` the expressions
select too. Each expression test expects no samples, so both tools report
every case with a result, in order, with what they got (or the error), formatted as promtool
formats it: the reports are compared case by case, NaN, +-Inf, -0 and the float text
included.

promtool creates a group's series in a random rotation of file order (Go map iteration in
its lazy loader), and ``sum`` / ``avg`` / ties in ``min`` / ``max`` depend on that order; a
case whose watcher result differs only in such an order is re-run with the series rotated
and agrees when one rotation gives promtool's report.
"""

from __future__ import annotations

import functools
import io
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from watcher.durations import format_duration
from watcher.errors import RuleError
from watcher.rules.gofmt import go_quote
from watcher.rules.promql import compile_expr
from watcher.rules.promtest import run_rule_tests

NAMES = ("a", "b", "c")
JOBS = ("x", "y", "z")
VALUES = (
    "0", "-0", "1", "-1", "2", "3", "0.5", "0.1", "0.2", "1.3", "7", "10", "100", "-2.5",
    "1e308", "-1e308", "1e-310", "Inf", "-Inf", "NaN", "010", "08", "0.7", "1e16",
)  # fmt: skip
STEPS = ("1+1x2", "-0x2", "0.1+0.2x2", "5-2x3", "1e308+1e308x1", "0+0.1x3")
NUMBERS = (
    "0", "1", "2", "3", "0.5", "0.1", "10", "1e308", "NaN", "Inf", "0x10", "010", "1.5e2",
    "0.3", "1.3", "4", "-1",
)  # fmt: skip
SCALAR_CMP = ("==", "!=", ">", "<", ">=", "<=")
ARITH = ("+", "-", "*", "/", "%", "^", "atan2")
SET_OPS = ("and", "or", "unless")
AGGS = ("sum", "min", "max", "avg", "count")
MATCHERS = (
    'job="x"', 'job!="x"', 'job=~"x|y"', 'job!~"y"', "job=~`[xz]`", 'inst=~".+"', 'inst=""',
    'job=~"(?i)X"', 'inst!~"1"', 'job=~"x|"',
)  # fmt: skip
GROUPINGS = (
    "", " by (job)", " without (inst)", " by ()", " by (job, inst)", " without (job)",
    " by (__name__)", " without ()",
)  # fmt: skip
VECTOR_MATCHING = (
    "",
    " on (job)",
    " on ()",
    " ignoring (inst)",
    " on (job, inst)",
    " ignoring (job)",
)


SCALAR_LEAVES = (
    *NUMBERS, "time()", "-0", "-Inf", "(1 / 0)", "2 ^ 0.5", "2 > bool 1", "NaN == bool NaN",
    "3 % 2", "time() / 60", "(0 * -1)",
)  # fmt: skip
_CMP_OPS = tuple(f"{op}{b}" for op in SCALAR_CMP for b in ("", " bool"))
SCALAR_OPS = (*ARITH, *(f"{op} bool" for op in SCALAR_CMP))
VECTOR_SCALAR_OPS = (*ARITH, *_CMP_OPS)
VECTOR_VECTOR_OPS = tuple(
    f"{op}{m}" for op in (*ARITH, *_CMP_OPS, *SET_OPS) for m in VECTOR_MATCHING
)
SELECTORS = (
    *NAMES,
    *(f"{n}{{{m}}}" for n in NAMES for m in MATCHERS),
    *(f"{n}{{{m1}, {m2}}}" for n in NAMES for i, m1 in enumerate(MATCHERS) for m2 in MATCHERS[i + 1 :]),
    *(f'{{__name__=~"a|b"{", " + m if m else ""}}}' for m in ("", *MATCHERS)),
)  # fmt: skip
AGGREGATIONS = tuple(f"{a}{g}" for a in AGGS for g in GROUPINGS)
# the rule file every generated test file uses; expressions select what it writes
RULES = """groups:
  - name: differential
    rules:
      - record: rec_sum
        expr: sum by (job) (a)
      - record: rec_rate
        expr: rate(b[2m])
      - record: rec_sub
        expr: max_over_time(c[3m:1m])
      - record: rec_chain
        expr: rec_sum * 2
        labels: {src: chain}
      - record: rec_at
        expr: a @ 120
      - alert: High
        expr: a > 1
        for: 1m
        labels: {sev: x}
"""
RULES_FILE = "differential_rules.yaml"
RECORDED = (
    "rec_sum", 'rec_sum{job="x"}', "rec_rate", "rec_sub", "rec_chain", "rec_at", "ALERTS",
    'ALERTS{alertstate="firing"}', 'ALERTS{alertstate="pending"}', "ALERTS_FOR_STATE",
)  # fmt: skip
RANGES = (
    "[1m]", "[2m]", "[3m]", "[5m]", "[90s]", "[10m]", "[2m] offset 1m", "[5m] offset 3m",
    "[2m] @ 180", "[3m] @ end()", "[5m] @ 240 offset 1m", "[2m] offset -1m",
)  # fmt: skip
OFFSETS = (
    " offset 1m", " offset 3m", " offset -1m", " offset 10m", " @ 60", " @ 0", " @ 150",
    " @ start()", " @ end()", " @ 300 offset 1m", " @ -60", " @ 0x78", " @ 120.0005",
)  # fmt: skip
SUBQUERY_RANGES = (
    "[3m:1m]", "[5m:2m]", "[4m:]", "[2m:30s]", "[5m:1m] offset 2m", "[3m:1m] @ 120",
    "[6m:90s] offset -1m", "[1m:1m]", "[10m:3m]", "[4m:1m] @ end()",
)  # fmt: skip
RANGE_FUNCS = (
    "rate", "increase", "delta", "irate", "idelta", "deriv", "changes", "resets",
    "avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "count_over_time",
    "last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time",
    "absent_over_time",
)  # fmt: skip
RANGE_CALLS = (
    *(f"{f}({{}})" for f in RANGE_FUNCS),
    "predict_linear({}, 60)", "predict_linear({}, -120)", "quantile_over_time(0.5, {})",
    "quantile_over_time(0.9, {})", "quantile_over_time(-1, {})", "holt_winters({}, 0.5, 0.5)",
    "holt_winters({}, 0.1, 0.9)",
)  # fmt: skip
# one token of a series' values; repeats weight the plain numbers
VALUE_TOKENS = (*VALUES, *VALUES, *VALUES, "_", "_", "stale", *STEPS)

_SCALAR_LEAF = st.sampled_from(SCALAR_LEAVES)
_SCALAR_OP = st.sampled_from(SCALAR_OPS)
_VS_OP = st.sampled_from(VECTOR_SCALAR_OPS)
_VV_OP = st.sampled_from(VECTOR_VECTOR_OPS)
_SELECTOR = st.sampled_from(SELECTORS)
_RANGE = st.sampled_from(RANGES)
_OFFSET = st.sampled_from(OFFSETS)
_RECORDED = st.sampled_from(RECORDED)
_SUBQUERY_RANGE = st.sampled_from(SUBQUERY_RANGES)
_RANGE_CALL = st.sampled_from(RANGE_CALLS)
_AGGREGATION = st.sampled_from(AGGREGATIONS)
_FUNC1 = st.sampled_from(("abs", "ceil", "floor", "round", "absent"))
_FUNC2 = st.sampled_from(("round", "clamp_min", "clamp_max"))
_VALUE_TOKEN = st.sampled_from(VALUE_TOKENS)
_LABEL_SETS = st.lists(
    st.sampled_from([(n, j, i) for n in NAMES for j in (*JOBS, "") for i in ("1", "2", "")]),
    min_size=1,
    max_size=6,
    unique=True,
)


@dataclass
class Group:
    """One test group: input series lines and expressions with their eval times (minutes)."""

    series: list[tuple[str, str]]
    cases: list[tuple[str, int]] = field(default_factory=list)


@functools.cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


def _operands(mode: int, lhs: str, rhs: str) -> tuple[str, str]:
    """Parenthesize neither, one or both operands (mode 0-3), so precedence is exercised."""
    return (f"({lhs})" if mode & 1 else lhs), (f"({rhs})" if mode & 2 else rhs)


@st.composite
def scalar_expr(draw: st.DrawFn, depth: int = 2) -> str:
    """A scalar-typed expression."""
    choice = draw(_ints(0, 3 if depth > 0 else 0))
    if choice <= 1:
        return draw(_SCALAR_LEAF)
    sub = draw(_SCALARS[depth - 1])
    if choice == 2:
        return f"-({sub})"
    lhs, rhs = _operands(draw(_ints(0, 3)), sub, draw(_SCALARS[depth - 1]))
    return f"{lhs} {draw(_SCALAR_OP)} {rhs}"


@st.composite
def vector_expr(draw: st.DrawFn, depth: int = 3) -> str:
    """A vector-typed expression."""
    choice = draw(_ints(-4, 9 if depth > 0 else 0))
    if choice == -4:
        return draw(_RECORDED)
    if choice == -3:
        inner = draw(_VECTORS[depth - 1]) if depth > 0 else draw(_SELECTOR)
        return draw(_RANGE_CALL).format(f"({inner}){draw(_SUBQUERY_RANGE)}")
    if choice == -2:
        return draw(_RANGE_CALL).format(draw(_SELECTOR) + draw(_RANGE))
    if choice == -1:
        return draw(_SELECTOR) + draw(_OFFSET)
    if choice == 0:
        return draw(_SELECTOR)
    if choice == 1:
        return f"vector({draw(_SCALARS[1])})"
    sub = draw(_VECTORS[depth - 1])
    if choice == 2:
        return f"{draw(_AGGREGATION)} ({sub})"
    if choice == 3:
        return f"{draw(_FUNC1)}({sub})"
    if choice == 4:
        return f"{draw(_FUNC2)}({sub}, {draw(_SCALARS[1])})"
    if choice == 5:
        return f"-({sub})"
    if choice in (6, 7):
        mode = draw(_ints(0, 7))
        lhs, rhs = _operands(mode & 3, sub, draw(_SCALARS[1]))
        if mode & 4:
            lhs, rhs = _operands(mode & 3, draw(_SCALARS[1]), sub)
        return f"{lhs} {draw(_VS_OP)} {rhs}"
    lhs, rhs = _operands(draw(_ints(0, 3)), sub, draw(_VECTORS[depth - 1]))
    return f"{lhs} {draw(_VV_OP)} {rhs}"


@st.composite
def series_values(draw: st.DrawFn, steps: int) -> str:
    """promtool's values notation for ``steps`` samples: numbers, gaps, stale, a+bxN."""
    tokens: list[str] = []
    remaining = steps
    while remaining > 0:
        token = draw(_VALUE_TOKEN)
        tokens.append(token)
        remaining -= int(token.rsplit("x", 1)[1]) + 1 if "x" in token else 1
    return " ".join(tokens)


_SCALARS = [scalar_expr(depth) for depth in range(3)]
_VECTORS: list[st.SearchStrategy[str]] = []
_VECTORS.extend(vector_expr(depth) for depth in range(4))
_SERIES_VALUES = [series_values(steps) for steps in range(13)]


@st.composite
def group(draw: st.DrawFn, cases: int) -> Group:
    """A test group: up to six series (distinct label sets) and ``cases`` expressions."""
    chosen = draw(_LABEL_SETS)
    steps = draw(_ints(1, 12))
    series = []
    for name, job, inst in chosen:
        labels = ", ".join(f'{k}="{v}"' for k, v in (("job", job), ("inst", inst)) if v)
        series.append((f"{name}{{{labels}}}" if labels else name, draw(_SERIES_VALUES[steps])))
    g = Group(series)
    for _ in range(cases):
        expr = draw(_VECTORS[3]) if draw(_ints(0, 4)) else draw(_SCALARS[2])
        g.cases.append((expr, draw(_ints(0, steps + 4))))
    return g


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render(groups: list[Group]) -> str:
    """One promtool test file holding every group."""
    lines = [f"rule_files: [{RULES_FILE}]", "evaluation_interval: 1m", "tests:"]
    for g in groups:
        lines += ["  - interval: 1m", "    input_series:"]
        for series, values in g.series:
            lines += [f"      - series: {_quote(series)}", f"        values: {_quote(values)}"]
        lines.append("    promql_expr_test:")
        for expr, minutes in g.cases:
            lines.append(f"      - {{expr: {_quote(expr)}, eval_time: {minutes}m}}")
    return "\n".join(lines) + "\n"


_BLOCK = re.compile(
    r'^    expr: (?P<expr>"(?:[^"\\]|\\.)*"), time: (?P<time>\S+?)'
    r"(?:, err: (?P<err>.*)|,\n        exp: .*\n        got: (?P<got>.*))$",
    re.MULTILINE,
)
_DUPLICATES = re.compile(r"\[(\{[^}]*\}), (\{[^}]*\})\];many-to-many")


def blocks(report: str, cases: list[tuple[str, int]]) -> list[str]:
    """The result of each case, in order: ``got: ...``, ``err: ...``, or ``got: nil``.

    A case that passes (an empty result: its test expects none) prints nothing, so the
    report's blocks are matched to the cases by expression and time, in order.
    """
    found = [
        (m.group("expr"), m.group("time"), m.group("err"), m.group("got"))
        for m in _BLOCK.finditer(report)
    ]
    out = []
    i = 0
    for expr, minutes in cases:
        key = (go_quote(expr), format_duration(minutes * 60))
        if i < len(found) and found[i][:2] == key:
            err, got = found[i][2:]
            out.append("err: " + _DUPLICATES.sub(_sorted_pair, err) if err else "got: " + got)
            i += 1
        else:
            out.append("got: nil")
    if i != len(found):
        out.append(f"unmatched report block {found[i][:2]}")
    return out


def _sorted_pair(m: re.Match[str]) -> str:
    # which duplicate series is named first depends on promtool's random creation order
    return "[" + ", ".join(sorted((m.group(1), m.group(2)))) + "];many-to-many"


def start_promtool(path: Path) -> Callable[[], str]:
    """Start ``promtool test rules path``; the returned call waits for its report.

    promtool runs while the watcher runs in this process (two cores, half the wall time).
    """
    proc = subprocess.Popen(
        ["promtool", "test", "rules", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def report() -> str:
        out, _ = proc.communicate(timeout=300)
        return out

    return report


def run_watcher(path: Path) -> str:
    """``watcher rules test``'s report on ``path``, in process."""
    out = io.StringIO()
    run_rule_tests([str(path)], out)
    return out.getvalue()


def _compiles(expr: str) -> bool:
    try:
        compile_expr(expr)
    except RuleError:
        return False
    return True


@dataclass
class Outcome:
    """What a differential run found."""

    cases: int = 0
    agreed_in_file_order: int = 0
    agreed_rotated: int = 0
    both_invalid: int = 0
    disagreements: list[str] = field(default_factory=list)


def compare(groups: list[Group], workdir: Path) -> Outcome:
    """Run every group through promtool and the watcher; classify each case."""
    path = workdir / "differential.yaml"
    path.write_text(render(groups), encoding="utf-8")
    (workdir / RULES_FILE).write_text(RULES, encoding="utf-8")
    promtool = start_promtool(path)
    every = [case for g in groups for case in g.cases]
    ours = blocks(run_watcher(path), every)
    theirs = blocks(promtool(), every)
    total = len(every)
    outcome = Outcome(cases=total)
    if len(theirs) != total or len(ours) != total:
        outcome.disagreements.append(
            f"report shape: {total} cases, promtool {len(theirs)} results, watcher {len(ours)}"
        )
        return outcome
    i = 0
    for g in groups:
        for case_index, (expr, minutes) in enumerate(g.cases):
            want, got = theirs[i], ours[i]
            i += 1
            if want == got:
                outcome.agreed_in_file_order += 1
                continue
            if "parse error" in want and not _compiles(expr):
                outcome.both_invalid += 1
                continue
            if want in _rotations(g, case_index, workdir):
                outcome.agreed_rotated += 1
                continue
            series = "; ".join(f"{s} = {v!r}" for s, v in g.series)
            outcome.disagreements.append(
                f"expr {expr!r} at {minutes}m over [{series}]:\n"
                f"    promtool {want}\n    watcher  {got}"
            )
    return outcome


def _rotations(g: Group, case_index: int, workdir: Path) -> set[str]:
    """The watcher's result for one case under every rotation of the series' creation order."""
    expr, minutes = g.cases[case_index]
    # the other cases' eval times decide which samples are loaded, so keep them as no-ops
    filler = [("vector(0)", m) for j, (_, m) in enumerate(g.cases) if j != case_index]
    results = set()
    for k in range(1, len(g.series)):
        rotated = Group(g.series[k:] + g.series[:k], [(expr, minutes), *filler])
        path = workdir / "rotation.yaml"
        path.write_text(render([rotated]), encoding="utf-8")
        results.add(blocks(run_watcher(path), rotated.cases)[0])
    return results
