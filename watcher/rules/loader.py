"""Prometheus alerting-rule files, loaded unchanged and checked all at once.

The format is Prometheus's (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/):
``groups[]`` with ``name``, ``interval``, ``limit``, ``rules[]``; each rule ``alert``, ``expr``,
``for``, ``keep_firing_for``, ``labels``, ``annotations``, or ``record``, ``expr``, ``labels``
(https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/). Every problem is
reported as ``file:line path: message``, with Prometheus's wording (model/rulefmt/rulefmt.go).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from watcher.durations import parse_duration
from watcher.errors import ConfigError, RuleError
from watcher.names import LABEL_NAME, METRIC_NAME
from watcher.rules.promql import Node, compile_expr
from watcher.rules.templates import Template, parse_template
from watcher.validate import Hook, Invalid, Key, Schema, describe, refuse
from watcher.yamlpos import Problem, load_located

#: Whether the expressions being loaded may read past samples (see ``load_rule_files``).
_HISTORY: ContextVar[bool] = ContextVar("rule_history", default=True)
#: The group names of the file being loaded, in order: a name seen before is repeated.
_GROUP_NAMES: ContextVar[set[str]] = ContextVar("rule_group_names")


@dataclass(frozen=True, slots=True)
class AlertingRule:
    """One ``alert:`` rule, compiled: expression, hold durations and templates."""

    name: str
    expr: str
    node: Node
    hold: float = 0.0
    keep_firing_for: float = 0.0
    labels: tuple[tuple[str, Template], ...] = ()
    annotations: tuple[tuple[str, Template], ...] = ()


@dataclass(frozen=True, slots=True)
class RecordingRule:
    """One ``record:`` rule: its result is stored as series named ``name`` with ``labels``.

    ``labels`` are plain strings (Prometheus does not expand templates in recording rules);
    an empty value removes the label.
    """

    name: str
    expr: str
    node: Node
    labels: tuple[tuple[str, str], ...] = ()


Rule = AlertingRule | RecordingRule


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A group of rules from one file, in evaluation order; ``limit`` 0 means no limit on the
    alerts (alerting rule) or series (recording rule) one rule may produce."""

    name: str
    file: str
    rules: tuple[Rule, ...]
    interval: float | None = None
    limit: int = 0

    @property
    def alerting(self) -> tuple[AlertingRule, ...]:
        """The alerting rules, in order."""
        return tuple(r for r in self.rules if isinstance(r, AlertingRule))


def load_rule_files(paths: Sequence[Path], *, history: bool = True) -> list[RuleGroup]:
    """Load every file; raise ConfigError listing every problem of every file.

    ``history`` admits expressions that read past samples (range vectors, ``offset``): the
    daemon keeps a sample history (watcher.history), and so do unit tests' input series.
    """
    groups: list[RuleGroup] = []
    problems: list[Problem] = []
    for path in paths:
        g, p = _load_file(Path(path), history=history)
        groups.extend(g)
        problems.extend(p)
    if problems:
        raise ConfigError(problems)
    return groups


def check_rule_files(paths: Sequence[Path]) -> list[str]:
    """Every problem in the files, for ``watcher check``; empty when they are valid."""
    try:
        load_rule_files(paths)
    except ConfigError as exc:
        return exc.problems
    return []


def _load_file(path: Path, *, history: bool) -> tuple[list[RuleGroup], list[Problem]]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return [], [Problem(file, 1, (), f"cannot read rule file: {reason}")]
    doc, problems = load_located(text, file)
    if doc is None or doc.data is None:  # an empty file is a valid rule file with no groups
        return [], problems
    if not isinstance(doc.data, Mapping):
        # Only the shape: a glob can match a secret file, whose text must never be echoed.
        got = _shape(doc.data)
        return [], [
            *problems,
            doc.problem((), f"expected a rule file (a mapping with groups), got {got}"),
        ]
    token, names = _HISTORY.set(history), _GROUP_NAMES.set(set())
    try:
        parsed, found = RULES.read(doc, doc.data, _RuleFile)
    finally:
        _HISTORY.reset(token)
        _GROUP_NAMES.reset(names)
    problems.extend(found)
    if parsed is None:
        return [], problems
    return [dataclasses.replace(g, file=file) for g in parsed.groups], problems


def _shape(value: object) -> str:
    """What ``value`` is, never what it says."""
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else "a single value"


# -- the file as Prometheus unmarshals it (rulefmt.RuleGroups), then its Validate() ----------


@dataclass(frozen=True, kw_only=True)
class _RuleNode:
    """``rules[]`` as written: rulefmt.RuleNode's keys, each value as YAML gave it."""

    alert: Any = None
    record: Any = None
    expr: Any = None
    for_: Annotated[Any, Key("for")] = None
    keep_firing_for: Any = None
    labels: Any = None
    annotations: Any = None


def _group_name(value: Any) -> str:
    """A group's name, refused when empty or when an earlier group of the file has it."""
    problems = []
    if not isinstance(value, str) or not value:
        problems.append(Invalid("group name must be a non-empty string"))
    if isinstance(value, str):
        names = _GROUP_NAMES.get()
        if value in names:  # rulefmt.go's RuleGroups.Validate
            problems.append(Invalid(f'group name "{value}" is repeated in the same file'))
        names.add(value)
    refuse(problems, "group name")
    return str(value)


@dataclass(frozen=True, kw_only=True)
class _GroupNode:
    """``groups[]`` as written; its name and rules already validated (in file order, so a
    repeated name is refused at the group that repeats it)."""

    name: Annotated[str | None, Hook(_group_name)] = None
    interval: Any = None
    limit: Any = None
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, kw_only=True)
class _RuleFile:
    groups: tuple[RuleGroup, ...] = ()


def _new_file(value: Any, _cls: Any) -> Any:
    """Forget the group names seen: a file is read again when it has an unknown key."""
    _GROUP_NAMES.get().clear()
    return value


class _Problems:
    """The problems of one group or rule, raised together."""

    def __init__(self) -> None:
        self.found: list[Exception] = []

    def add(self, message: str, *at: str | int) -> None:
        self.found.append(Invalid(message, at))

    def duration(self, value: object, key: str) -> float:
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.add(str(exc), key)
            return 0.0

    def raise_any(self, what: str) -> None:
        if self.found:
            raise ExceptionGroup(what, self.found)


def _group(value: Any) -> RuleGroup:
    g: _GroupNode = RULES.structure(value, _GroupNode)
    p = _Problems()
    name = g.name
    if name is None:
        p.add("group name must be a non-empty string", "name")
    interval = None if g.interval is None else p.duration(g.interval, "interval")
    limit = g.limit or 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        p.add(f"expected a non-negative integer, got {describe(limit)}", "limit")
    p.raise_any("group")
    assert name is not None  # refused above
    return RuleGroup(name, "", g.rules, interval, limit)


def _rule(value: Any) -> Rule:
    """rulefmt.go's RuleNode.Validate: every problem of the rule at once."""
    r: _RuleNode = RULES.structure(value, _RuleNode)
    p = _Problems()
    record, alert = _scalar_text(r.record), _scalar_text(r.alert)
    if record and alert:
        p.add("only one of 'record' and 'alert' must be set", "record")
    elif not record and not alert:
        p.add("one of 'record' or 'alert' must be set")
    p.raise_any("rule")
    node: Node | None = None
    if r.expr is None or (isinstance(r.expr, str) and not r.expr.strip()):
        p.add("field 'expr' must be set in rule", "expr")
    else:
        try:
            node = compile_expr(str(r.expr), history=_HISTORY.get())
        except RuleError as exc:
            p.add(str(exc), "expr")
    if record:
        return _recording(r, p, record, node)
    hold = 0.0 if r.for_ is None else p.duration(r.for_, "for")
    keep = 0.0 if r.keep_firing_for is None else p.duration(r.keep_firing_for, "keep_firing_for")
    labels = _templates(p, r.labels, "labels", alert)
    annotations = _templates(p, r.annotations, "annotations", alert)
    p.raise_any("alerting rule")
    assert node is not None  # a missing or bad expression was raised above
    return AlertingRule(alert, str(r.expr), node, hold, keep, labels, annotations)


def _recording(r: _RuleNode, p: _Problems, name: str, node: Node | None) -> RecordingRule:
    if r.annotations:
        p.add("invalid field 'annotations' in recording rule", "record")
    for key, value in (("for", r.for_), ("keep_firing_for", r.keep_firing_for)):
        if value is not None and p.duration(value, key) != 0:
            p.add(f"invalid field '{key}' in recording rule", "record")
    if not METRIC_NAME.match(name):
        p.add(f"invalid recording rule name: {name}", "record")
    labels = tuple(
        (name, _scalar_text(value)) for name, value in _entries(p, r.labels, "labels", _plain_label)
    )
    p.raise_any("recording rule")
    assert node is not None
    return RecordingRule(name, str(r.expr), node, tuple(sorted(labels)))


def _plain_label(name: str) -> str | None:
    ok = LABEL_NAME.match(name) and name != "__name__"
    return None if ok else f"invalid label name: {name}"


def _label(name: str) -> str | None:
    ok = LABEL_NAME.match(name) and name != "__name__"
    return None if ok else f'invalid label name "{name}"'


def _annotation(name: str) -> str | None:
    return None if LABEL_NAME.match(name) else f'invalid annotation name "{name}"'


def _entries(
    p: _Problems, raw: object, key: str, check: Callable[[str], str | None]
) -> list[tuple[str, object]]:
    """The entries of the mapping ``key`` with a valid name and a scalar value."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        p.add(f"expected a mapping, got {describe(raw)}", key)
        return []
    out = []
    for k, value in raw.items():
        name = str(k)
        if (problem := check(name)) is not None:
            p.add(problem, key, name)
        elif isinstance(value, Mapping | list):
            p.add(f"expected a string, got {describe(value)}", key, name)
        else:
            out.append((name, value))
    return out


def _templates(p: _Problems, raw: object, key: str, alert: str) -> tuple[tuple[str, Template], ...]:
    """An alerting rule's labels or annotations, each value parsed as a template."""
    out: list[tuple[str, Template]] = []
    for name, value in _entries(p, raw, key, _label if key == "labels" else _annotation):
        try:
            out.append((name, parse_template(_scalar_text(value), f"__alert_{alert}")))
        except RuleError as exc:
            p.add(str(exc), key, name)
    return tuple(sorted(out, key=lambda kv: kv[0]))


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


RULES = Schema(
    {},
    null_is_missing=False,
    unknown=lambda key, allowed, _cls: f"unknown key (expected one of {', '.join(allowed)})",
)
RULES.hook(RuleGroup, _group)
RULES.before(_RuleFile, _new_file)
RULES.hook(Rule, _rule)
