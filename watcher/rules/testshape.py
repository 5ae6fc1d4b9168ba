"""A promtool rule unit-test file, read as promtool's Go types take it.

``promtool test rules`` unmarshals the file into Go structs (cmd/promtool/unittest.go:
``unitTestFile``, ``testGroup``, ``alertTestCase``...), so an unknown key is "field X not found
in type unitTestFile" and a value of the wrong kind fails the file. The same types here, as
frozen dataclasses built by the one converter (``watcher.validate``), durations in
milliseconds and input series already parsed; the first problem, by line, is the file's error,
as promtool stops at its first. A field left empty is Go's zero value.
https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from watcher.durations import parse_duration
from watcher.errors import TestFileError
from watcher.rules.teststorage import parse_series, parse_values
from watcher.validate import Hook, Invalid, Schema, each, expected, refuse
from watcher.yamlpos import Located

#: promtool's evaluation_interval when the file gives none (or 0): 1m
EVALUATION_INTERVAL_MS = 60_000


def _scalar(value: Any) -> str:
    """A string, number or boolean, as text."""
    if value is None or isinstance(value, Mapping | list):
        raise expected("a scalar", value)
    return str(value)


def _number(value: Any) -> float:
    """A number, or a string that reads as one."""
    if not isinstance(value, bool) and not isinstance(value, Mapping | list) and value is not None:
        try:
            return float(str(value))
        except ValueError:
            pass
    raise expected("a number", value)


def _labels(value: Any) -> dict[str, str]:
    """A mapping of label names to scalars."""
    if not isinstance(value, Mapping):
        raise expected("a mapping of strings", value)
    values, problems = each(value, lambda _key, label: _scalar(label))
    refuse(problems, "labels")
    return dict(zip(map(str, value), values, strict=True))


def _ms(value: Any) -> int:
    """A duration in milliseconds; left empty it is Go's zero."""
    text = _scalar(value) if value else ""
    try:
        return round(parse_duration(text) * 1000) if text else 0
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _evaluation_interval(value: Any) -> int:
    return _ms(value) or EVALUATION_INTERVAL_MS  # promtool: a zero interval is the default


def _series(value: Any) -> tuple[str | None, dict[str, str]]:
    try:
        return parse_series(_scalar(value))
    except TestFileError as exc:
        raise Invalid(str(exc)) from None


def _values(value: Any) -> tuple[object, ...]:
    try:
        return tuple(parse_values(_scalar(value)))
    except TestFileError as exc:
        raise Invalid(str(exc)) from None


Ms = Annotated[int, Hook(_ms)]
Labels = Annotated[dict[str, str], Hook(_labels)]


@dataclass(frozen=True, kw_only=True)
class ExpSample:
    """``exp_samples[]``: the labels as written (checked when the test runs) and the value."""

    GO_TYPE: ClassVar[str] = "sample"
    labels: str = ""
    value: Annotated[float, Hook(_number)] = 0.0


@dataclass(frozen=True, kw_only=True)
class ExpAlert:
    """``exp_alerts[]``."""

    GO_TYPE: ClassVar[str] = "alert"
    exp_labels: Labels = field(default_factory=dict)
    exp_annotations: Labels = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AlertCase:
    """``alert_rule_test[]``; ``eval_time`` in milliseconds."""

    GO_TYPE: ClassVar[str] = "alertTestCase"
    eval_time: Ms = 0
    alertname: str = ""
    exp_alerts: tuple[ExpAlert, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ExprCase:
    """``promql_expr_test[]``; ``eval_time`` in milliseconds."""

    GO_TYPE: ClassVar[str] = "promqlTestCase"
    expr: str = ""
    eval_time: Ms = 0
    exp_samples: tuple[ExpSample, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Series:
    """``input_series[]``: (name, labels) and the expanded values (float, None or stale)."""

    GO_TYPE: ClassVar[str] = "series"
    series: Annotated[tuple[str | None, dict[str, str]], Hook(_series)]
    values: Annotated[tuple[object, ...], Hook(_values)] = ()


@dataclass(frozen=True, kw_only=True)
class TestGroup:
    """``tests[]``; promtool 2.x defaults a missing ``interval`` to 0 (every sample at t=0)."""

    __test__: ClassVar[bool] = False  # a name pytest would otherwise collect
    GO_TYPE: ClassVar[str] = "testGroup"
    interval: Ms = 0
    input_series: tuple[Series, ...] = ()
    alert_rule_test: tuple[AlertCase, ...] = ()
    promql_expr_test: tuple[ExprCase, ...] = ()
    external_labels: Labels = field(default_factory=dict)
    external_url: str = ""
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class TestFile:
    """The whole file; ``evaluation_interval`` in milliseconds."""

    __test__: ClassVar[bool] = False
    GO_TYPE: ClassVar[str] = "unitTestFile"
    rule_files: tuple[str, ...] = ()
    evaluation_interval: Annotated[int, Hook(_evaluation_interval)] = EVALUATION_INTERVAL_MS
    group_eval_order: tuple[str, ...] = ()
    tests: tuple[TestGroup, ...] = ()


def _unknown(key: str, _allowed: Sequence[str], cls: type) -> str:
    return f"field {key} not found in type {getattr(cls, 'GO_TYPE', cls.__name__)}"


TESTS = Schema({str: _scalar}, unknown=_unknown, null_is_missing=False)
# a series left out is promtool's empty series text, which it refuses
TESTS.before(Series, lambda value, _cls: {"series": "", **value})


def check_test_file(doc: Located) -> TestFile:
    """The file built; raise TestFileError naming file, line and key of its first problem."""
    built, problems = TESTS.read(doc, {} if doc.data is None else doc.data, TestFile)
    if problems or built is None:
        raise TestFileError(min(problems, key=lambda p: p.line))
    return built
