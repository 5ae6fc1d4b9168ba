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
from pathlib import Path
from typing import TextIO

from watcher.durations import format_duration
from watcher.errors import ConfigError, RuleError, TestFileError
from watcher.rules.alerting import RuleState
from watcher.rules.evaluate import Evaluator, format_labels
from watcher.rules.gofmt import format_exp_upper
from watcher.rules.loader import AlertingRule, RecordingRule, RuleGroup, load_rule_files
from watcher.rules.outputs import alert_series, recorded
from watcher.rules.promql import compile_expr
from watcher.rules.testshape import AlertCase, ExprCase, TestFile, TestGroup, check_test_file
from watcher.rules.teststorage import History, InputSeries, parse_series, parse_values
from watcher.yamlpos import load_located

__all__ = ["TestFileError", "go_duration", "parse_values", "run_rule_tests"]


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


def _read_file(path: Path) -> tuple[list[Path], TestFile]:
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
    test_file = check_test_file(doc)
    files: list[Path] = []
    for pattern in test_file.rule_files:
        full = pattern if Path(pattern).is_absolute() else str(path.parent / pattern)
        matches = sorted(glob.glob(full))
        if not matches:
            out_msg = f"  WARNING: no file match pattern {full}"
            files.append(Path(out_msg))  # reported by the caller
        files.extend(Path(m) for m in matches)
    for group in test_file.tests:
        for case in group.alert_rule_test:
            if not case.alertname:
                suffix = f" (in TestGroup {group.name})" if group.name else ""
                msg = (
                    "an item under alert_rule_test misses required attribute alertname at "
                    f"eval_time {format_duration(case.eval_time / 1000)}{suffix}"
                )
                raise TestFileError(msg)
    return files, test_file


def _input_series(group: TestGroup) -> list[InputSeries]:
    """The group's series, each value at its ``interval`` step."""
    out = []
    for item in group.input_series:
        points: list[tuple[int, object]] = []
        for j, v in enumerate(item.values):
            ts = j * group.interval
            if v is None or (points and points[-1][0] == ts):
                continue  # omitted, or a second sample at one timestamp (first wins)
            points.append((ts, v))
        out.append(InputSeries(*item.series, points))
    return out


def _run_file(path: Path, out: TextIO) -> list[str]:
    files, test_file = _read_file(path)
    real: list[Path] = []
    for f in files:
        if str(f).startswith("  WARNING:"):
            out.write(f"{f}\n")
        else:
            real.append(f)
    rule_groups = load_rule_files(real, history=True)
    rank = {name: i for i, name in enumerate(test_file.group_eval_order)}
    rule_groups.sort(key=lambda g: rank.get(g.name, 0))
    errors: list[str] = []
    for g in test_file.tests:
        errors.extend(_run_group(g, rule_groups, test_file.evaluation_interval))
    return errors


_Member = RuleState | RecordingRule


def _member(rule: AlertingRule | RecordingRule, group: RuleGroup, tg: TestGroup) -> _Member:
    if isinstance(rule, RecordingRule):
        return rule
    return RuleState(rule, group.name, tg.external_labels, tg.external_url)


def _run_group(tg: TestGroup, groups: list[RuleGroup], eval_ms: int) -> list[str]:
    times = [t.eval_time for t in tg.alert_rule_test] + [t.eval_time for t in tg.promql_expr_test]
    max_ms = max(times, default=0)
    history = History.loaded(_input_series(tg), eval_ms, max_ms)
    states = [(g, [_member(r, g, tg) for r in g.rules]) for g in groups]
    alert_times = sorted({t.eval_time for t in tg.alert_rule_test})
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
            for case in (c for c in tg.alert_rule_test if c.eval_time == t):
                errors.extend(_check_alerts(tg, states, case))
            curr += 1
        ts += eval_ms
    history.loaded_ms = None  # expression tests see every loaded sample
    for expr_case in tg.promql_expr_test:
        errors.extend(_check_expr(history, expr_case, eval_ms))
    return errors


def _check_alerts(
    tg: TestGroup, states: list[tuple[RuleGroup, list[_Member]]], case: AlertCase
) -> list[str]:
    name = case.alertname
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
    for item in case.exp_alerts:
        labels = {**item.exp_labels, "alertname": name}
        exp.append((sorted(labels.items()), sorted(item.exp_annotations.items())))
    got.sort()
    exp.sort()
    if got == exp:
        return []
    prefix = f"    name: {tg.name},\n" if tg.name else ""
    when = format_duration(case.eval_time / 1000)
    return [
        f"{prefix}    alertname: {name}, time: {when}, \n        exp:{_alerts_str(exp)}, "
        f"\n        got:{_alerts_str(got)}"
    ]


def _check_expr(history: History, case: ExprCase, eval_ms: int) -> list[str]:
    """One promql_expr_test; a subquery's default step is the evaluation_interval (promtool's
    SubqueryInterval)."""
    expr = case.expr
    when = format_duration(case.eval_time / 1000)
    quoted = '"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'
    history.at_ms = case.eval_time
    try:
        evaluator = Evaluator(history, case.eval_time / 1000, step_ms=eval_ms)
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
    for item in case.exp_samples:
        text = item.labels
        try:
            name, labels = parse_series(text) if text.strip() not in ("", "{}") else (None, {})
        except TestFileError as exc:
            return [f"    expr: {quoted}, time: {when}, err: labels {text!r}: {exc}"]
        if name is not None:
            labels["__name__"] = name
        exp.append((sorted(labels.items()), item.value))
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
