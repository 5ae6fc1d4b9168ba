"""The shape of a promtool rule unit-test file, as promtool's Go types take it.

``promtool test rules`` unmarshals the file into Go structs (cmd/promtool/unittest.go:
``unitTestFile``, ``testGroup``, ``alertTestCase``...), so an unknown key is "field X not found
in type unitTestFile" and a value of the wrong kind fails the file. The same types here, as
dataclasses read by the one converter (``watcher.validate``); the first problem, by line, is
the file's error, as promtool stops at its first. A field left empty is Go's zero value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from watcher.rules.teststorage import TestFileError
from watcher.validate import Schema, each, expected, refuse
from watcher.yamlpos import Located


class Scalar:
    """A string, number or boolean."""


class Number:
    """A number, or a string that reads as one."""


class Labels:
    """A mapping of label names to scalars."""


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, Mapping | list):
        raise expected("a scalar", value)
    return value


def _number(value: Any) -> Any:
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number and not isinstance(value, Mapping | list) and value is not None:
        try:
            float(str(value))
            number = not isinstance(value, bool)
        except ValueError:
            pass
    if not number:
        raise expected("a number", value)
    return value


def _labels(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise expected("a mapping of strings", value)
    _, problems = each(value, lambda _key, label: _scalar(label))
    refuse(problems, "labels")
    return value


@dataclass(frozen=True, kw_only=True)
class _Sample:
    GO_TYPE: ClassVar[str] = "sample"
    labels: Scalar | None = None
    value: Number | None = None


@dataclass(frozen=True, kw_only=True)
class _Alert:
    GO_TYPE: ClassVar[str] = "alert"
    exp_labels: Labels | None = None
    exp_annotations: Labels | None = None


@dataclass(frozen=True, kw_only=True)
class _AlertCase:
    GO_TYPE: ClassVar[str] = "alertTestCase"
    eval_time: Scalar | None = None
    alertname: Scalar | None = None
    exp_alerts: tuple[_Alert, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _ExprCase:
    GO_TYPE: ClassVar[str] = "promqlTestCase"
    expr: Scalar | None = None
    eval_time: Scalar | None = None
    exp_samples: tuple[_Sample, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _Series:
    GO_TYPE: ClassVar[str] = "series"
    series: Scalar | None = None
    values: Scalar | None = None


@dataclass(frozen=True, kw_only=True)
class _TestGroup:
    GO_TYPE: ClassVar[str] = "testGroup"
    interval: Scalar | None = None
    input_series: tuple[_Series, ...] = ()
    alert_rule_test: tuple[_AlertCase, ...] = ()
    promql_expr_test: tuple[_ExprCase, ...] = ()
    external_labels: Labels | None = None
    external_url: Scalar | None = None
    name: Scalar | None = None


@dataclass(frozen=True, kw_only=True)
class _TestFile:
    GO_TYPE: ClassVar[str] = "unitTestFile"
    rule_files: tuple[Scalar, ...] = ()
    evaluation_interval: Scalar | None = None
    group_eval_order: tuple[Scalar, ...] = ()
    tests: tuple[_TestGroup, ...] = ()


def _unknown(key: str, _allowed: Sequence[str], cls: type) -> str:
    return f"field {key} not found in type {getattr(cls, 'GO_TYPE', cls.__name__)}"


TESTS = Schema({}, unknown=_unknown, null_is_missing=False)
TESTS.hook(Scalar, _scalar)
TESTS.hook(Number, _number)
TESTS.hook(Labels, _labels)


def check_test_file(doc: Located) -> None:
    """Raise TestFileError naming file, line and key of the first value of the wrong shape."""
    _, problems = TESTS.read(doc, {} if doc.data is None else doc.data, _TestFile)
    if problems:
        raise TestFileError(min(problems, key=lambda p: p.line))
