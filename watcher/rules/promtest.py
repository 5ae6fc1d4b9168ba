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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from watcher.durations import format_duration, parse_duration
from watcher.errors import ConfigError, RuleError
from watcher.rules.alerting import RuleState
from watcher.rules.evaluate import Evaluator, format_labels
from watcher.rules.gofmt import format_exp_upper
from watcher.rules.loader import AlertingRule, RecordingRule, RuleGroup, load_rule_files
from watcher.rules.outputs import alert_series, recorded
from watcher.rules.promql import compile_expr
from watcher.rules.teststorage import (
    History,
    InputSeries,
    TestFileError,
    parse_series,
    parse_values,
)
from watcher.yamlpos import Located, load_located

__all__ = ["TestFileError", "go_duration", "parse_values", "run_rule_tests"]

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


@dataclass
class _Group:
    name: str = ""
    interval_ms: int = 0
    series: list[InputSeries] = field(default_factory=list)
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
        g.series.append(InputSeries(name, labels, points))
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


_Member = RuleState | RecordingRule


def _member(rule: AlertingRule | RecordingRule, group: RuleGroup, tg: _Group) -> _Member:
    if isinstance(rule, RecordingRule):
        return rule
    return RuleState(rule, group.name, tg.external_labels, tg.external_url)


def _run_group(tg: _Group, groups: list[RuleGroup], eval_ms: int) -> list[str]:
    max_ms = max([t["_ms"] for t in tg.alert_tests + tg.expr_tests], default=0)
    history = History.loaded(tg.series, eval_ms, max_ms)
    states = [(g, [_member(r, g, tg) for r in g.rules]) for g in groups]
    alert_times = sorted({t["_ms"] for t in tg.alert_tests})
    errors: list[str] = []
    curr = 0
    ts = 0
    while ts <= max_ms:
        history.at_ms = history.loaded_ms = ts
        evaluator = Evaluator(history, ts / 1000, step_ms=eval_ms)
        eval_errors = []
        for gi, (group, members) in enumerate(states):
            for ri, member in enumerate(members):
                # each rule's result goes into the test storage at ts, where the next rules
                # of this evaluation and every later query read it (promtool runs the real
                # rule manager on its test storage)
                try:
                    if isinstance(member, RecordingRule):
                        vector = evaluator.vector(member.node)
                        history.write((gi, ri), ts, recorded(member, vector, group.limit))
                    else:
                        member.step(evaluator.vector(member.rule.node), ts / 1000, group.limit)
                        history.write((gi, ri), ts, alert_series(member))
                except RuleError as exc:
                    eval_errors.append(
                        f"    rule: {member.name if isinstance(member, RecordingRule) else member.rule.name}, "
                        f"time: {go_duration(ts)}, err: {exc}"
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
    history.loaded_ms = None  # expression tests see every loaded sample
    for case in tg.expr_tests:
        errors.extend(_check_expr(history, case, eval_ms))
    return errors


def _check_alerts(
    tg: _Group, states: list[tuple[RuleGroup, list[_Member]]], case: dict[str, Any]
) -> list[str]:
    name = str(case["alertname"])
    got: list[tuple[list[tuple[str, str]], list[tuple[str, str]]]] = []
    for _, members in states:
        for state in members:
            if isinstance(state, RecordingRule) or state.rule.name != name:
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


def _check_expr(history: History, case: dict[str, Any], eval_ms: int) -> list[str]:
    """One promql_expr_test; a subquery's default step is the evaluation_interval (promtool's
    SubqueryInterval)."""
    expr = str(case.get("expr", ""))
    when = format_duration(case["_ms"] / 1000)
    quoted = '"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'
    history.at_ms = case["_ms"]
    try:
        evaluator = Evaluator(history, case["_ms"] / 1000, step_ms=eval_ms)
        got_vec = evaluator.vector(compile_expr(expr, history=True))
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
