"""``watcher rules test``: promtool's rule unit-test files, run on watcher's engine.

Same file format, evaluation and report as ``promtool test rules`` of Prometheus 2.x
(https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/):
input series are loaded at ``interval`` steps (expanding notation ``a+bxN``, ``_``, ``stale``),
every rule group is evaluated at each ``evaluation_interval`` step from 0, alert tests compare
the firing alerts of the evaluation at or just before ``eval_time``, and selectors look back
5 minutes. The output and exit code match promtool's, so the two can be diffed.
"""

from __future__ import annotations

import glob
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import promql_parser as pp

from watcher.durations import format_duration, parse_duration
from watcher.errors import ConfigError, RuleError
from watcher.matchers import Matcher
from watcher.rules.alerting import RuleState
from watcher.rules.evaluate import Evaluator, Sample, SampleLike, format_labels
from watcher.rules.gofmt import format_exp_upper
from watcher.rules.loader import RuleGroup, load_rule_files
from watcher.rules.promql import compile_expr, parse
from watcher.yamlpos import Located, load_located

LOOKBACK_MS = 5 * 60 * 1000
_STALE = object()
# promtool's series values (promql/parser generated_parser.y, series_item): a number, then
# optionally a signed step, then xN; numbers are read by the parser's number(), where an
# integer with a leading 0 is octal (010 is 8)
# (Inf and NaN are identifiers to the lexer when an x follows: "Infx2" is an error)
_NUM = r"(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_SEQ = re.compile(rf"^(?P<a>[-+]?{_NUM})(?:(?P<b>[-+]{_NUM}))?x(?P<n>\d+)$")
_VALUE = re.compile(rf"^[-+]?(?:{_NUM}|[iI][nN][fF]|[nN][aA][nN])$")
_INT64_MAX = (1 << 63) - 1
# The shape of a test file, after promtool's Go types: a field is SCALAR (a string, number or
# bool), NUMBER, LABELS (a mapping of scalars), a one-item list [shape] (a list of that shape), or
# a (Go type name, {field: shape}) pair (a mapping with only those fields).
_SCALAR = "a scalar"
_NUMBER = "a number"
_LABELS = "a mapping of strings"
_Shape = str | list[Any] | tuple[str, dict[str, Any]]
_SAMPLE = ("sample", {"labels": _SCALAR, "value": _NUMBER})
_ALERT = ("alert", {"exp_labels": _LABELS, "exp_annotations": _LABELS})
_ALERT_CASE = (
    "alertTestCase",
    {"eval_time": _SCALAR, "alertname": _SCALAR, "exp_alerts": [_ALERT]},
)
_EXPR_CASE = (
    "promqlTestCase",
    {"expr": _SCALAR, "eval_time": _SCALAR, "exp_samples": [_SAMPLE]},
)
_SERIES = ("series", {"series": _SCALAR, "values": _SCALAR})
_TEST_GROUP = (
    "testGroup",
    {
        "interval": _SCALAR,
        "input_series": [_SERIES],
        "alert_rule_test": [_ALERT_CASE],
        "promql_expr_test": [_EXPR_CASE],
        "external_labels": _LABELS,
        "external_url": _SCALAR,
        "name": _SCALAR,
    },
)
_FILE = (
    "unitTestFile",
    {
        "rule_files": [_SCALAR],
        "evaluation_interval": _SCALAR,
        "group_eval_order": [_SCALAR],
        "tests": [_TEST_GROUP],
    },
)


class TestFileError(Exception):
    """The test file itself is invalid; promtool prints the message and fails the file."""


def go_duration(ms: int) -> str:
    """Go's time.Duration.String() for whole milliseconds: ``0s``, ``1m30s``, ``1h0m0s``."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if h:
        return f"{sign}{h}h{m}m{s}"
    if m:
        return f"{sign}{m}m{s}"
    if ms < 1000:
        return f"{sign}{ms}ms"
    return sign + s


def go_number(text: str) -> float:
    """A number as PromQL's parser reads it: Go's ParseInt(text, 0, 64), else ParseFloat."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body.isdigit():
        base = 8 if len(body) > 1 and body[0] == "0" else 10
        try:
            n = int(body, base)
        except ValueError:
            n = -1  # e.g. 08: not octal, so Go falls back to ParseFloat
        if 0 <= n <= _INT64_MAX:
            return sign * float(n)
    return sign * float(body)


def parse_values(text: str) -> list[object]:
    """Expand promtool's value notation into floats, None (missing) and the stale marker."""
    out: list[object] = []
    for tok in str(text).split():
        if tok == "_":
            out.append(None)
        elif tok.startswith("_x") and tok[2:].isdigit():
            out.extend([None] * int(tok[2:]))
        elif tok == "stale":
            out.append(_STALE)
        elif (m := _SEQ.match(tok)) is not None:
            value = go_number(m.group("a"))
            out.append(value)
            if m.group("b") is None:  # axN repeats a as is (so -0 stays -0)
                out.extend([value] * int(m.group("n")))
                continue
            step = go_number(m.group("b"))
            for _ in range(int(m.group("n"))):
                value += step
                out.append(value)
        elif _VALUE.match(tok):
            out.append(go_number(tok))
        else:
            msg = f'invalid value "{tok}" in input series values'
            raise TestFileError(msg)
    return out


def parse_series(text: str) -> tuple[str | None, dict[str, str]]:
    """``name{a="b"}`` -> name and labels."""
    try:
        expr = parse(text)
    except ValueError as exc:
        msg = f'invalid series "{text}": {exc}'
        raise TestFileError(msg) from None
    if not isinstance(expr, pp.VectorSelector):
        msg = f'invalid series "{text}"'
        raise TestFileError(msg)
    labels: dict[str, str] = {}
    name = expr.name
    for m in expr.matchers.matchers:
        if m.op != pp.MatchOp.Equal:
            msg = f'invalid series "{text}": only = matchers describe a series'
            raise TestFileError(msg)
        if m.name == "__name__":
            name = m.value
        elif m.value:
            labels[m.name] = m.value
    return name, labels


@dataclass
class _Series:
    name: str | None
    labels: dict[str, str]
    points: list[tuple[int, object]]  # (ms, float | _STALE), ascending


class History:
    """Samples over time with Prometheus's 5-minute lookback and staleness markers.

    Series are kept in creation order, the order Prometheus's head hands them to an
    aggregation (sum and avg round differently in another order).
    """

    def __init__(self, series: list[_Series]) -> None:
        self.series = series
        self.at_ms = 0

    @classmethod
    def loaded(cls, series: list[_Series], eval_ms: int, max_ms: int) -> History:
        """The samples promtool's lazy loader holds after its last evaluation step.

        promtool appends samples step by step up to the last evaluation step at or before the
        largest eval_time, so later samples are never seen; a series is created at the first
        step that loads one of its samples; a series listed twice keeps its last values
        (cmd/promtool/unittest.go and promql/test.go, LazyLoader.appendTill).
        """
        last_ms = max_ms - max_ms % eval_ms if eval_ms > 0 else max_ms
        by_key: dict[tuple[str | None, tuple[tuple[str, str], ...]], _Series] = {}
        for s in series:
            key = (s.name, tuple(sorted(s.labels.items())))
            points = [p for p in s.points if p[0] <= last_ms]
            if key in by_key:
                by_key[key].points = points
            else:
                by_key[key] = _Series(s.name, s.labels, points)

        def created(s: _Series) -> int:
            return -(-s.points[0][0] // eval_ms) if eval_ms > 0 else 0

        alive = [s for s in by_key.values() if s.points]
        return cls(sorted(alive, key=created))

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        """Latest sample of each matching series in [t-5m, t], unless it is a stale marker."""
        return self.select_at(name, matchers, self.at_ms)

    def _matching(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[_Series]:
        for s in self.series:
            if name is not None and s.name != name:
                continue
            if all(
                m.matches_value(
                    (s.name or "") if m.name == "__name__" else s.labels.get(m.name, "")
                )
                for m in matchers
            ):
                yield s

    def select_at(
        self, name: str | None, matchers: Sequence[Matcher], at_ms: int
    ) -> Iterable[SampleLike]:
        """Latest sample of each matching series in [at-5m, at], unless it is a stale marker."""
        out: list[SampleLike] = []
        for s in self._matching(name, matchers):
            latest: object = None
            for ts, v in s.points:
                if ts > at_ms:
                    break
                if ts >= at_ms - LOOKBACK_MS:
                    latest = v
            if isinstance(latest, float):
                out.append(Sample(s.name, s.labels, latest))
        return out

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        """Each matching series' samples in [start_ms, end_ms] (Prometheus 2.x: both ends)."""
        for s in self._matching(name, matchers):
            points = [
                (ts, v) for ts, v in s.points if start_ms <= ts <= end_ms and isinstance(v, float)
            ]
            yield s.name, s.labels, points


@dataclass
class _Group:
    name: str = ""
    interval_ms: int = 0
    series: list[_Series] = field(default_factory=list)
    alert_tests: list[dict[str, Any]] = field(default_factory=list)
    expr_tests: list[dict[str, Any]] = field(default_factory=list)
    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""


def _ms(value: object, where: str) -> int:
    try:
        return round(parse_duration(str(value)) * 1000)
    except ValueError as exc:
        msg = f"{where}: {exc}"
        raise TestFileError(msg) from None


def _labels_str(labels: Mapping[str, str]) -> str:
    return format_labels(None, labels)


def _alerts_str(items: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]]) -> str:
    if not items:
        return "[]"
    parts = []
    for i, (labels, ann) in enumerate(items):
        body = f"\nLabels:{_labels_str(dict(labels))}\nAnnotations:{_labels_str(dict(ann))}"
        parts.append(f"{i}:" + body.replace("\n", "\n  "))
    return ("[\n" + ",\n".join(parts) + "\n]").replace("\n", "\n            ")


def _samples_str(samples: list[tuple[list[tuple[str, str]], float]]) -> str:
    if not samples:
        return "nil"
    return ", ".join(f"{format_labels(None, dict(lb))} {format_exp_upper(v)}" for lb, v in samples)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f'"{value}"' if isinstance(value, str) else f"the value {value}"


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _check_shape(
    doc: Located, value: object, shape: _Shape, path: tuple[str | int, ...], *, item: bool = False
) -> None:
    """Raise TestFileError naming file, line and key at the first value of the wrong shape."""

    def wrong(expected: str) -> TestFileError:
        return TestFileError(f"{doc.where(path)}: expected {expected}, got {_kind(value)}")

    if value is None and not item:
        return  # an empty field: promtool's zero value
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise wrong("a list")
        for i, element in enumerate(value):
            _check_shape(doc, element, shape[0], (*path, i), item=True)
    elif isinstance(shape, tuple):
        type_name, fields = shape
        if not isinstance(value, Mapping):
            raise wrong("a mapping")
        for key, field_value in value.items():
            if key not in fields:
                where = doc.where((*path, str(key)))
                msg = f"{where}: field {key} not found in type {type_name}"
                raise TestFileError(msg)
            _check_shape(doc, field_value, fields[key], (*path, str(key)))
    elif shape == _LABELS:
        if not isinstance(value, Mapping):
            raise wrong(_LABELS)
        for key, label in value.items():
            _check_shape(doc, label, _SCALAR, (*path, str(key)), item=True)
    elif (
        isinstance(value, Mapping | list)
        or value is None
        or (shape == _NUMBER and not _is_number(value))
    ):
        raise wrong(shape)


def run_rule_tests(paths: Sequence[str], out: TextIO) -> int:
    """Run every test file like ``promtool test rules``; 0 when all pass, 1 otherwise."""
    failed = False
    for path in paths:
        out.write(f"Unit Testing:  {path}\n")
        try:
            errors = _run_file(Path(path), out)
        except TestFileError as exc:
            errors = [str(exc)]
        except ConfigError as exc:
            errors = exc.problems
        if errors:
            failed = True
            out.write("  FAILED:\n")
            for e in errors:
                out.write(f"{e}\n\n")
        else:
            out.write("  SUCCESS\n")
        out.write("\n")
    return 1 if failed else 0


def _read_file(path: Path) -> tuple[list[Path], int, list[str], list[_Group]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"open {path}: {exc.strerror}"
        raise TestFileError(msg) from None
    except UnicodeDecodeError:
        msg = f"{path}:1: not UTF-8 text"
        raise TestFileError(msg) from None
    doc, problems = load_located(text, str(path))
    if doc is None or problems:
        raise TestFileError("\n".join(problems))
    data = doc.data or {}
    _check_shape(doc, data, _FILE, ())
    assert isinstance(data, Mapping)
    files: list[Path] = []
    for pattern in map(str, data.get("rule_files") or []):
        full = pattern if Path(pattern).is_absolute() else str(path.parent / pattern)
        matches = sorted(glob.glob(full))
        if not matches:
            out_msg = f"  WARNING: no file match pattern {full}"
            files.append(Path(out_msg))  # reported by the caller
        files.extend(Path(m) for m in matches)
    eval_ms = (
        _ms(data["evaluation_interval"], doc.where(("evaluation_interval",)))
        if data.get("evaluation_interval")
        else 60_000
    )
    order = [str(g) for g in data.get("group_eval_order") or []]
    groups: list[_Group] = []
    for i, raw in enumerate(data.get("tests") or []):
        groups.append(_read_group(doc, raw, ("tests", i)))
    return files, eval_ms, order, groups


def _read_group(doc: Located, raw: Mapping[str, Any], path: tuple[str | int, ...]) -> _Group:
    """One test group, its shape already checked by _check_shape."""
    g = _Group(name=str(raw.get("name") or ""), external_url=str(raw.get("external_url") or ""))
    # promtool 2.x defaults a missing interval to 0: every sample lands at t=0
    if raw.get("interval"):
        g.interval_ms = _ms(raw["interval"], doc.where((*path, "interval")))
    g.external_labels = {str(k): str(v) for k, v in (raw.get("external_labels") or {}).items()}
    for i, item in enumerate(raw.get("input_series") or []):
        where = (*path, "input_series", i)
        try:
            name, labels = parse_series(str(item.get("series") or ""))
        except TestFileError as exc:
            msg = f"{doc.where((*where, 'series'))}: {exc}"
            raise TestFileError(msg) from None
        try:
            values = parse_values(str(item.get("values") or ""))
        except TestFileError as exc:
            msg = f"{doc.where((*where, 'values'))}: {exc}"
            raise TestFileError(msg) from None
        points: list[tuple[int, object]] = []
        for j, v in enumerate(values):
            ts = j * g.interval_ms
            if v is None or (points and points[-1][0] == ts):
                continue  # omitted, or a second sample at one timestamp (first wins)
            points.append((ts, v))
        g.series.append(_Series(name, labels, points))
    g.alert_tests = [dict(t) for t in raw.get("alert_rule_test") or []]
    g.expr_tests = [dict(t) for t in raw.get("promql_expr_test") or []]
    for i, t in enumerate(g.alert_tests):
        at = doc.where((*path, "alert_rule_test", i, "eval_time"))
        t["_ms"] = _ms(t.get("eval_time") or "0s", at)
        if not t.get("alertname"):
            suffix = f" (in TestGroup {g.name})" if g.name else ""
            msg = (
                "an item under alert_rule_test misses required attribute alertname at "
                f"eval_time {format_duration(t['_ms'] / 1000)}{suffix}"
            )
            raise TestFileError(msg)
    for i, t in enumerate(g.expr_tests):
        at = doc.where((*path, "promql_expr_test", i, "eval_time"))
        t["_ms"] = _ms(t.get("eval_time") or "0s", at)
    return g


def _run_file(path: Path, out: TextIO) -> list[str]:
    files, eval_ms, order, groups = _read_file(path)
    real: list[Path] = []
    for f in files:
        if str(f).startswith("  WARNING:"):
            out.write(f"{f}\n")
        else:
            real.append(f)
    rule_groups = load_rule_files(real, history=True)
    rank = {name: i for i, name in enumerate(order)}
    rule_groups.sort(key=lambda g: rank.get(g.name, 0))
    errors: list[str] = []
    for g in groups:
        errors.extend(_run_group(g, rule_groups, eval_ms))
    return errors


def _run_group(tg: _Group, groups: list[RuleGroup], eval_ms: int) -> list[str]:
    max_ms = max([t["_ms"] for t in tg.alert_tests + tg.expr_tests], default=0)
    history = History.loaded(tg.series, eval_ms, max_ms)
    states = [
        (g, [RuleState(r, g.name, tg.external_labels, tg.external_url) for r in g.rules])
        for g in groups
    ]
    alert_times = sorted({t["_ms"] for t in tg.alert_tests})
    errors: list[str] = []
    curr = 0
    ts = 0
    while ts <= max_ms:
        history.at_ms = ts
        evaluator = Evaluator(history, ts / 1000)
        eval_errors = []
        for group, rule_states in states:
            for state in rule_states:
                try:
                    state.step(evaluator.vector(state.rule.node), ts / 1000, group.limit)
                except RuleError as exc:
                    eval_errors.append(
                        f"    rule: {state.rule.name}, time: {go_duration(ts)}, err: {exc}"
                    )
        errors.extend(eval_errors)
        if eval_errors:
            return errors
        while curr < len(alert_times) and ts <= alert_times[curr] < ts + eval_ms:
            t = alert_times[curr]
            for case in (c for c in tg.alert_tests if c["_ms"] == t):
                errors.extend(_check_alerts(tg, states, case))
            curr += 1
        ts += eval_ms
    for case in tg.expr_tests:
        errors.extend(_check_expr(history, case))
    return errors


def _check_alerts(
    tg: _Group, states: list[tuple[RuleGroup, list[RuleState]]], case: dict[str, Any]
) -> list[str]:
    name = str(case["alertname"])
    got: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]] = []
    for _, rule_states in states:
        for state in rule_states:
            if state.rule.name != name:
                continue
            got.extend(
                (sorted(a.labels.items()), sorted(a.annotations.items()))
                for a in state
                if a.state == "firing"
            )
    exp = []
    for item in case.get("exp_alerts") or []:
        labels = {str(k): str(v) for k, v in (item.get("exp_labels") or {}).items()}
        labels["alertname"] = name
        ann = {str(k): str(v) for k, v in (item.get("exp_annotations") or {}).items()}
        exp.append((sorted(labels.items()), sorted(ann.items())))
    got.sort()
    exp.sort()
    if got == exp:
        return []
    prefix = f"    name: {tg.name},\n" if tg.name else ""
    when = format_duration(case["_ms"] / 1000)
    return [
        f"{prefix}    alertname: {name}, time: {when}, \n        exp:{_alerts_str(exp)}, "
        f"\n        got:{_alerts_str(got)}"
    ]


def _check_expr(history: History, case: dict[str, Any]) -> list[str]:
    expr = str(case.get("expr", ""))
    when = format_duration(case["_ms"] / 1000)
    quoted = '"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'
    history.at_ms = case["_ms"]
    try:
        got_vec = Evaluator(history, case["_ms"] / 1000).vector(compile_expr(expr, history=True))
    except RuleError as exc:
        return [f"    expr: {quoted}, time: {when}, err: {exc}"]
    got = []
    for s in got_vec:
        labels = dict(s.labels)
        if s.name is not None:
            labels["__name__"] = s.name
        got.append((sorted(labels.items()), s.value))
    exp = []
    for item in case.get("exp_samples") or []:
        text = str(item.get("labels", ""))
        try:
            name, labels = parse_series(text) if text.strip() not in ("", "{}") else (None, {})
        except TestFileError as exc:
            return [f"    expr: {quoted}, time: {when}, err: labels {text!r}: {exc}"]
        if name is not None:
            labels["__name__"] = name
        exp.append((sorted(labels.items()), float(item.get("value", 0))))
    got.sort(key=lambda x: x[0])
    exp.sort(key=lambda x: x[0])
    same = len(got) == len(exp) and all(
        g[0] == e[0] and g[1] == e[1] and not math.isnan(g[1])
        for g, e in zip(got, exp, strict=True)
    )
    if same:
        return []
    return [
        f"    expr: {quoted}, time: {when},\n        exp: {_samples_str(exp)}\n"
        f"        got: {_samples_str(got)}"
    ]
