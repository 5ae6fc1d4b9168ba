"""`watcher rules test` runs promtool's test files with promtool's results and report."""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from watcher.rules import run_rule_tests
from watcher.rules.promtest import go_duration, parse_values

ROOT = Path(__file__).resolve().parent.parent
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("CI") != "true", reason="promtool is not installed"
)

RULES = """groups:
  - name: g
    rules:
      - alert: High
        expr: m > 5
        for: 2m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.job }} is {{ $value | humanize }} in {{ $externalLabels.cluster }}"
      - alert: Keep
        expr: m > 5
        keep_firing_for: 3m
      - alert: Ratio
        expr: sum by (job) (m) / on(job) sum by (job) (n) > bool 1
      - alert: Missing
        expr: absent(gone{job="x"})
"""

CASES = {
    "pass": """rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    external_labels: {cluster: prod}
    input_series:
      - {series: 'm{job="a"}', values: '1 6 7 8 9 1 1 1 1 1 1'}
      - {series: 'n{job="a"}', values: '2+2x10'}
    alert_rule_test:
      - {eval_time: 2m, alertname: High}
      - eval_time: 3m
        alertname: High
        exp_alerts:
          - exp_labels: {severity: page, job: a}
            exp_annotations: {summary: "a is 8 in prod"}
      - {eval_time: 7m, alertname: Keep, exp_alerts: [{exp_labels: {job: a}}]}
      - {eval_time: 8m, alertname: Keep}
      - {eval_time: 0m, alertname: Missing, exp_alerts: [{exp_labels: {job: x}}]}
    promql_expr_test:
      - expr: m * 2
        eval_time: 2m
        exp_samples: [{labels: '{job="a"}', value: 14}]
      - expr: sum by (job) (m) / on(job) sum by (job) (n)
        eval_time: 1m
        exp_samples: [{labels: '{job="a"}', value: 1.5}]
""",
    "fail": """rule_files: [rules.yaml]
tests:
  - interval: 1m
    name: wrong
    input_series:
      - {series: 'm{job="a"}', values: '1 6 7 8 _ stale 9'}
    alert_rule_test:
      - eval_time: 3m
        alertname: High
        exp_alerts: [{exp_labels: {job: b}}]
    promql_expr_test:
      - {expr: m, eval_time: 5m, exp_samples: [{labels: 'm{job="a"}', value: 8}]}
      - {expr: m, eval_time: 4m, exp_samples: []}
      - {expr: m, eval_time: 10m, exp_samples: []}
""",
    "eval_error": """rule_files: [rules.yaml]
tests:
  - interval: 1m
    input_series:
      - {series: 'm{job="a"}', values: '1'}
      - {series: 'n{job="a",x="1"}', values: '1'}
      - {series: 'n{job="a",x="2"}', values: '1'}
    alert_rule_test:
      - {eval_time: 1m, alertname: High}
""",
    "no_alertname": """rule_files: [rules.yaml]
tests:
  - input_series: []
    alert_rule_test:
      - {eval_time: 2m}
""",
    "negative_zero": """rule_files: [rules.yaml]
tests:
  - interval: 1m
    input_series:
      - {series: 'm{job="a"}', values: '0 -0x1'}
    promql_expr_test:
      - {expr: -m, eval_time: 0m, exp_samples: [{labels: '{job="a"}', value: 1}]}
      - {expr: m, eval_time: 1m, exp_samples: [{labels: 'm{job="a"}', value: 1}]}
""",
    "default_interval": """rule_files: [rules.yaml]
evaluation_interval: 30s
tests:
  - input_series:
      - {series: 'a', values: '1 2 3 4'}
    promql_expr_test:
      - {expr: a, eval_time: 1m, exp_samples: [{labels: 'a', value: 3}]}
""",
    # without evaluation_interval, or with 0, a subquery steps at promtool's default 1m
    **{
        name: f"""rule_files: [rules.yaml]
{line}tests:
  - interval: 1m
    input_series:
      - {{series: 'a', values: '1+0x20'}}
    promql_expr_test:
      - {{expr: 'count_over_time(a[5m:])', eval_time: 10m, exp_samples: [{{labels: '{{}}', value: 6}}]}}
"""
        for name, line in (
            ("no_evaluation_interval", ""),
            ("zero_evaluation_interval", "evaluation_interval: 0\n"),
        )
    },
}


def ours(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    code = run_rule_tests([f"{name}.yaml"], out)
    return code, out.getvalue()


def write_cases(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    for name, text in CASES.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")


@needs_promtool
@pytest.mark.external
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_report_and_exit_code_as_promtool(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit code and report are byte-identical to the real promtool's."""
    write_cases(tmp_path)
    real = subprocess.run(
        ["promtool", "test", "rules", f"{name}.yaml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert (real.returncode, real.stdout) == ours(tmp_path, name, monkeypatch)


def test_passing_file_reports_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A passing file prints SUCCESS and exits 0."""
    write_cases(tmp_path)
    assert ours(tmp_path, "pass", monkeypatch) == (0, "Unit Testing:  pass.yaml\n  SUCCESS\n\n")


SHIPPED_TESTS = sorted((ROOT / "tests/rules").glob("*_test.yaml"))


@pytest.mark.parametrize("test_file", SHIPPED_TESTS, ids=lambda p: p.name)
def test_shipped_rules_pass_their_unit_tests(test_file: Path) -> None:
    """The shipped rules/ pass each tests/rules/*_test.yaml in the watcher."""
    out = io.StringIO()
    assert run_rule_tests([str(test_file)], out) == 0, out.getvalue()


@pytest.mark.external
@pytest.mark.parametrize("test_file", SHIPPED_TESTS, ids=lambda p: p.name)
def test_shipped_rules_pass_their_unit_tests_in_promtool(test_file: Path) -> None:
    """Prometheus's promtool passes the same files: the shipped rules mean the same there."""
    if shutil.which("promtool") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not on PATH; CI must install it (Debian package prometheus)")
        pytest.skip("promtool is not on PATH")
    done = subprocess.run(
        ["promtool", "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == done.returncode, done.stdout + done.stderr


def test_invalid_rule_file_fails_the_test_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule file with problems fails with the problems listed."""
    (tmp_path / "rules.yaml").write_text(
        "groups:\n- name: g\n  rules:\n  - {alert: A, expr: 'topk(1, x)'}\n"
    )
    (tmp_path / "t.yaml").write_text("rule_files: [rules.yaml]\ntests: []\n")
    code, text = ours(tmp_path, "t", monkeypatch)
    assert (code, text) == (
        1,
        "Unit Testing:  t.yaml\n  FAILED:\nrules.yaml:4 groups[0].rules[0].expr: aggregation "
        "topk is not supported by watcher's PromQL subset\n\n\n",
    )


def test_expanding_notation() -> None:
    """a+bxN gives N+1 values, _xN N gaps, and stale a marker."""
    values = parse_values("1+2x2 _x2 5-1x1 3x1 stale")
    assert values[:-1] == [1.0, 3.0, 5.0, None, None, 5.0, 4.0, 3.0, 3.0]
    assert not isinstance(values[-1], float)


def test_values_are_read_as_promql_numbers() -> None:
    """A leading-zero integer is octal as in Go's ParseInt base 0; 08 and 010.5 are decimal."""
    assert [8.0, -8.0, 8.0, 10.5, 1.0, 9.0, 17.0] == parse_values("010 -010 08 010.5 1+010x2")


def test_repetition_without_step_keeps_negative_zero() -> None:
    """-0x2 repeats -0 (Go appends the same value), while -0+0x1 adds +0 to it."""
    signs = [math.copysign(1.0, v) for v in parse_values("-0x2 -0+0x1")]  # type: ignore[arg-type]
    assert [-1.0, -1.0, -1.0, -1.0, 1.0] == signs


def test_go_duration_strings() -> None:
    """Rule error times print as Go's time.Duration does."""
    assert [go_duration(ms) for ms in (0, 60_000, 3_600_000, 90_000, 1500)] == [
        "0s",
        "1m0s",
        "1h0m0s",
        "1m30s",
        "1.5s",
    ]


MALFORMED = {
    "tests: 5": "t.yaml:2 tests: expected a list, got the value 5",
    "tests: [5]": "t.yaml:2 tests[0]: expected a mapping, got the value 5",
    "tests: [{input_series: 5}]": "t.yaml:2 tests[0].input_series: expected a list, got the value 5",
    "tests: [{input_series: [{series: m, values: [1, 2]}]}]": (
        "t.yaml:2 tests[0].input_series[0].values: expected a scalar, got a list"
    ),
    "tests: [{input_series: [{series: m, values: '1 x'}]}]": (
        't.yaml:2 tests[0].input_series[0].values: invalid value "x" in input series values'
    ),
    "tests: [{alert_rule_test: [{eval_time: 1m, alertname: High, exp_alerts: 5}]}]": (
        "t.yaml:2 tests[0].alert_rule_test[0].exp_alerts: expected a list, got the value 5"
    ),
    "tests: [{alert_rule_test: [{eval_time: 1m, alertname: High, exp_alerts: [{exp_labels: 5}]}]}]": (
        "t.yaml:2 tests[0].alert_rule_test[0].exp_alerts[0].exp_labels: "
        "expected a mapping of strings, got the value 5"
    ),
    "tests: [{promql_expr_test: [{expr: m, exp_samples: [{labels: m, value: abc}]}]}]": (
        't.yaml:2 tests[0].promql_expr_test[0].exp_samples[0].value: expected a number, got "abc"'
    ),
    "tests: [{input_series: [{series: m, values: '1', colour: red}]}]": (
        "t.yaml:2 tests[0].input_series[0].colour: field colour not found in type series"
    ),
    "group_eval_order: 5": "t.yaml:2 group_eval_order: expected a list, got the value 5",
}


@pytest.mark.parametrize("body", sorted(MALFORMED))
def test_malformed_test_file_is_one_line_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    """A test file of the wrong shape fails with one line naming file, line and key, exit 1."""
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "t.yaml").write_text(f"rule_files: [rules.yaml]\n{body}\n", encoding="utf-8")
    assert (1, f"Unit Testing:  t.yaml\n  FAILED:\n{MALFORMED[body]}\n\n\n") == ours(
        tmp_path, "t", monkeypatch
    )


def test_group_interval_is_ignored_like_promtool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As promtool 2.x, every group runs at evaluation_interval even with its own interval."""
    (tmp_path / "rules.yaml").write_text(
        "groups:\n  - name: slow\n    interval: 3m\n    rules:\n"
        "      - alert: X\n        expr: m > 5\n",
        encoding="utf-8",
    )
    (tmp_path / "t.yaml").write_text(
        "rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n"
        "    input_series: [{series: m, values: '0 10 10 10 10 0'}]\n"
        "    alert_rule_test:\n      - {eval_time: 1m, alertname: X, exp_alerts: [{}]}\n"
        "      - {eval_time: 5m, alertname: X}\n",
        encoding="utf-8",
    )
    expected = (0, "Unit Testing:  t.yaml\n  SUCCESS\n\n")
    assert expected == ours(tmp_path, "t", monkeypatch)
    if PROMTOOL is not None:  # the expectation is promtool's own
        real = subprocess.run(
            [PROMTOOL, "test", "rules", "t.yaml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert expected == (real.returncode, real.stdout)
