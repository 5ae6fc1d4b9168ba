"""Regexes are RE2 and fully anchored, as in Prometheus and Alertmanager; none can stall us."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Writer
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.matchers import parse_matcher
from watcher.regex import compile_anchored
from watcher.rules import load_rule_files
from watcher.rules.promql import Selector, compile_expr


def test_case_insensitive_flag_works_as_in_prometheus() -> None:
    """`=~"(?i)prod"` matches PROD and Prod, the RE2 flag Prometheus users write."""
    m = parse_matcher('env=~"(?i)prod"')
    assert [True, True, False] == [m.matches({"env": v}) for v in ("PROD", "Prod", "production")]


def test_regexes_are_fully_anchored() -> None:
    """`=~"prod"` does not match "production" or "preprod"; `!~` is its negation."""
    eq, ne = parse_matcher('env=~"prod"'), parse_matcher('env!~"prod"')
    assert [True, False, False] == [eq.matches({"env": v}) for v in ("prod", "production", "pre")]
    assert [False, True] == [ne.matches({"env": v}) for v in ("prod", "production")]


def test_alternation_cannot_escape_the_anchors() -> None:
    """`a)|(b` is refused on its own, as Prometheus does, rather than unanchoring the match."""
    with pytest.raises(ValueError, match="invalid regular expression"):
        parse_matcher('x=~"a)|(b"')


def test_dot_nl_is_prometheus_3s_flavour() -> None:
    """`^(?:re)$` (Alertmanager, Prometheus 2) keeps `.` off newlines; `dot_nl` lets it match."""
    assert compile_anchored("a.b").fullmatch("a\nb") is None
    assert compile_anchored("a.b", dot_nl=True).fullmatch("a\nb") is not None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?=x)y", "invalid perl operator: (?="),
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("x{1001}", "invalid repetition size: {1001}"),
    ],
)
def test_what_re2_rejects_is_rejected_with_its_reason(pattern: str, reason: str) -> None:
    """Lookarounds, backreferences and huge repeats: Prometheus rejects them, so do we."""
    with pytest.raises(ValueError, match="invalid regular expression") as err:
        compile_anchored(pattern)
    assert f'invalid regular expression "{pattern}": {reason}' == str(err.value)


def test_redos_pattern_answers_in_linear_time() -> None:
    """`(a+)+$` against a long non-matching string answers within 10 ms (Python re: never).

    Python's backtracking engine took 0.16 s at 22 characters, doubling with each one; RE2
    is linear, so 10,000 characters take well under a millisecond. The fastest of five runs
    is timed so a busy machine cannot make the test flaky.
    """
    m = parse_matcher('x=~"(a+)+$"')
    text = "a" * 10_000 + "!"
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert not m.matches({"x": text})
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.010


def test_bad_regex_in_config_names_file_line_and_key(write: Writer) -> None:
    """A route matcher RE2 rejects is one line with file, line and key path."""
    path = write(
        "w.yaml",
        "route:\n  receiver: r\n  routes:\n    - matchers: ['a=~\"(?!x)\"']\nreceivers: [{name: r}]\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert [
        f'{path}:4 route.routes[0].matchers[0]: invalid regular expression "(?!x)": '
        "invalid perl operator: (?!"
    ] == err.value.problems


def test_promql_regex_uses_re2(write: Writer) -> None:
    """PromQL `=~"(?i)…"` parses; a rule whose regex RE2 rejects names its file and line."""
    expr = compile_expr('up{env=~"(?i)prod"}')
    assert isinstance(expr, Selector)
    assert [True, False] == [expr.matchers[0].matches({"env": v}) for v in ("PROD", "pro")]
    path = write(
        "r.yaml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: 'up{env=~\"a{2000}\"}'\n",
    )
    with pytest.raises(ConfigError) as err:
        load_rule_files([path])
    [problem] = err.value.problems
    assert problem.startswith(f"{path}:5 ")
    assert problem.endswith('invalid regular expression "a{2000}": invalid repetition size: {2000}')
