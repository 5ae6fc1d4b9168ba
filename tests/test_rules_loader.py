"""Rule files load like Prometheus's, and every problem is reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.errors import ConfigError
from watcher.rules import check_rule_files, load_rule_files
from watcher.rules.loader import RecordingRule

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_rules_load() -> None:
    """The shipped rules/ load with the cases of docs/product.md, the recording rule included."""
    groups = load_rule_files(sorted((ROOT / "rules").glob("*.yaml")))
    names = {r.name for g in groups for r in g.rules}
    assert {
        "MegaCouponExpiringSoon",
        "MegaCouponKycRequired",
        "AccountBalanceLow",
        "AffiliateVolumeZero",
        "SourceDown",
        "SourceStale",
        "MegaCouponUsedUpFast",
        "coinw:affiliate_trading_volume:week_over_week",
        "AffiliateVolumeHalvedWeekOverWeek",
        "AccountBalanceRunsOut",
        "SourceErrors",
        "SourceFlapping",
        "NotificationsFailing",
    } == names


def test_rule_fields_are_read(tmp_path: Path) -> None:
    """for, keep_firing_for, labels and annotations reach the compiled rule."""
    path = write(
        tmp_path,
        """
groups:
  - name: g
    limit: 3
    rules:
      - alert: A
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }}"}
""",
    )
    [group] = load_rule_files([path])
    [rule] = group.alerting
    assert (
        group.name,
        group.limit,
        rule.name,
        rule.hold,
        rule.keep_firing_for,
        [k for k, _ in rule.labels],
        [k for k, _ in rule.annotations],
    ) == ("g", 3, "A", 300.0, 60.0, ["severity"], ["summary"])


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    """One pass lists YAML-level, PromQL, duration, template and label-name problems."""
    path = write(
        tmp_path,
        """groups:
  - name: g
    rules:
      - alert: A
        expr: rate(x[5m]) > 1
        colour: red
      - record: r-1
        expr: x
      - alert: B
        expr: x
        for: soon
        annotations:
          s: "{{ $labels.x "
      - alert: C
        expr: x offset 5m
      - alert: D
        expr: x
      - alert: D
        expr: y
        labels: {"bad-name": x}
""",
    )
    f = str(path)
    assert [
        f"{f}:6 groups[0].rules[0].colour: unknown key (expected one of alert, record, expr, for, keep_firing_for, labels, annotations)",
        f"{f}:7 groups[0].rules[1].record: invalid recording rule name: r-1",
        f'{f}:11 groups[0].rules[2].for: expected a duration like 30s, 5m or 1h30m, got "soon"',
        f"{f}:13 groups[0].rules[2].annotations.s: template: __alert_B:1: unclosed action",
        f'{f}:20 groups[0].rules[5].labels.bad-name: invalid label name "bad-name"',
    ] == check_rule_files([path])


def test_same_alert_name_twice_in_a_group_loads(tmp_path: Path) -> None:
    """Two rules with one alert name in a group both load, in order, as Prometheus accepts."""
    path = write(
        tmp_path,
        "groups:\n- name: g\n  rules:\n"
        "  - {alert: Low, expr: balance < 100, labels: {severity: warning}}\n"
        "  - {alert: Low, expr: balance < 10, labels: {severity: critical}}\n",
    )
    [group] = load_rule_files([path])
    assert [("Low", "balance < 100"), ("Low", "balance < 10")] == [
        (r.name, r.expr) for r in group.rules
    ]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    """Broken YAML is one problem with its line."""
    path = write(tmp_path, "groups:\n  - name: g\n    rules: [\n")
    [problem] = check_rule_files([path])
    assert problem.startswith(f"{path}:4: invalid YAML")


def test_load_raises_config_error(tmp_path: Path) -> None:
    """load_rule_files raises ConfigError carrying the problems."""
    path = write(tmp_path, "groups:\n- name: g\n  rules:\n  - {alert: A}\n")
    with pytest.raises(ConfigError) as info:
        load_rule_files([path])
    assert [
        f"{path}:4 groups[0].rules[0].expr: field 'expr' must be set in rule"
    ] == info.value.problems


def test_empty_file_is_valid(tmp_path: Path) -> None:
    """An empty rule file holds no groups, as in Prometheus."""
    assert load_rule_files([write(tmp_path, "")]) == []


def test_recording_rules_load_in_group_order(tmp_path: Path) -> None:
    """A group mixing record: and alert: rules loads both kinds, in file order, with labels."""
    path = write(
        tmp_path,
        "groups:\n- name: g\n  rules:\n"
        "  - {record: 'job:x:sum', expr: sum by (job) (x), labels: {team: a, gone: ''}}\n"
        "  - {alert: High, expr: 'job:x:sum > 1'}\n",
    )
    [group] = load_rule_files([path])
    record, alert = group.rules
    assert isinstance(record, RecordingRule)
    assert ("job:x:sum", (("gone", ""), ("team", "a"))) == (record.name, record.labels)
    assert (alert,) == group.alerting


def test_recording_rule_problems_use_prometheus_wording(tmp_path: Path) -> None:
    """Every field Prometheus refuses on a recording rule is named with its message."""
    path = write(
        tmp_path,
        """groups:
  - name: g
    rules:
      - record: r
        expr: x
        for: 5m
        keep_firing_for: 1m
        annotations: {a: b}
        labels: {__name__: y}
      - record: r
        alert: A
        expr: x
      - expr: x
      - record: r
        expr: x +
""",
    )
    f = str(path)
    problems = check_rule_files([path])
    assert [
        f"{f}:4 groups[0].rules[0].record: invalid field 'annotations' in recording rule",
        f"{f}:4 groups[0].rules[0].record: invalid field 'for' in recording rule",
        f"{f}:4 groups[0].rules[0].record: invalid field 'keep_firing_for' in recording rule",
        f"{f}:9 groups[0].rules[0].labels.__name__: invalid label name: __name__",
        f"{f}:10 groups[0].rules[1].record: only one of 'record' and 'alert' must be set",
        f"{f}:13 groups[0].rules[2]: one of 'record' or 'alert' must be set",
    ] == problems[:6]
    assert problems[6].startswith(f"{f}:15 groups[0].rules[3].expr: could not parse expression")
    assert 7 == len(problems)


def test_repeated_group_names_are_refused_at_the_repeating_group(tmp_path: Path) -> None:
    """A name an earlier group of the file has is refused at the later group, in file order
    with the other problems, and reported even when that group has others (as rulefmt.go)."""
    f = write(
        tmp_path,
        "groups:\n"
        "  - {name: a, rules: [{alert: A, expr: up}]}\n"
        "  - {name: b, rules: [{alert: B, expr: up}]}\n"
        "  - {name: a, rules: [{alert: C, expr: 'up +'}]}\n"
        "  - {name: b, colour: red, rules: []}\n"
        "  - {name: c, rules: []}\n",
    )
    assert [
        f'{f}:4 groups[2].name: group name "a" is repeated in the same file',
        f"{f}:4 groups[2].rules[0].expr: could not parse expression: invalid promql query",
        f'{f}:5 groups[3].name: group name "b" is repeated in the same file',
        f"{f}:5 groups[3].colour: unknown key (expected one of name, interval, limit, rules)",
    ] == check_rule_files([f])
