"""Prometheus alerting-rule files, loaded unchanged and checked all at once.

The format is Prometheus's (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/):
``groups[]`` with ``name``, ``interval``, ``limit``, ``rules[]``; each rule ``alert``, ``expr``,
``for``, ``keep_firing_for``, ``labels``, ``annotations``, or ``record``, ``expr``, ``labels``
(https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/). Every problem is
reported as ``file:line path: message``, with Prometheus's wording (model/rulefmt/rulefmt.go).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from watcher.durations import parse_duration
from watcher.errors import ConfigError, RuleError
from watcher.rules.promql import Node, compile_expr
from watcher.rules.templates import Template, parse_template
from watcher.yamlpos import Located, load_located

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_GROUP_KEYS = ("name", "interval", "limit", "rules")
_RULE_KEYS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")


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
    problems: list[str] = []
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


def _load_file(path: Path, *, history: bool) -> tuple[list[RuleGroup], list[str]]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return [], [f"{file}:1: cannot read rule file: {reason}"]
    doc, problems = load_located(text, file)
    if doc is None:
        return [], problems
    return _FileReader(doc, problems, history=history).groups(), problems


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f'"{value}"' if isinstance(value, str) else f"the value {value}"


def _shape(value: object) -> str:
    """What ``value`` is, never what it says."""
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return "a string" if isinstance(value, str) else "a single value"


class _FileReader:
    def __init__(self, doc: Located, problems: list[str], *, history: bool) -> None:
        self.doc = doc
        self.problems = problems
        self.history = history

    def problem(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(f"{self.doc.where(path)}: {message}")

    def mapping(self, value: object, path: tuple[str | int, ...], allowed: Sequence[str]) -> bool:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a mapping, got {_kind(value)}")
            return False
        for key in value:
            if key not in allowed:
                self.problem(
                    (*path, str(key)), f"unknown key (expected one of {', '.join(allowed)})"
                )
        return True

    def groups(self) -> list[RuleGroup]:
        data = self.doc.data
        if data is None:
            return []  # an empty file is a valid rule file with no groups
        if not isinstance(data, Mapping):
            # Only the shape: a glob can match a secret file, whose text must never be echoed.
            self.problem((), f"expected a rule file (a mapping with groups), got {_shape(data)}")
            return []
        if not self.mapping(data, (), ("groups",)):
            return []
        raw = data.get("groups")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(("groups",), f"expected a list, got {_kind(raw)}")
            return []
        out: list[RuleGroup] = []
        names: set[str] = set()
        for i, item in enumerate(raw):
            group = self.group(item, ("groups", i))
            if group is None:
                continue
            if group.name in names:
                self.problem(
                    ("groups", i, "name"), f'group name "{group.name}" is repeated in the same file'
                )
            names.add(group.name)
            out.append(group)
        return out

    def duration(self, value: object, path: tuple[str | int, ...]) -> float:
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.problem(path, str(exc))
            return 0.0

    def group(self, item: object, path: tuple[str | int, ...]) -> RuleGroup | None:
        if not self.mapping(item, path, _GROUP_KEYS):
            return None
        assert isinstance(item, Mapping)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            self.problem((*path, "name"), "group name must be a non-empty string")
            name = ""
        interval = None
        if item.get("interval") is not None:
            interval = self.duration(item["interval"], (*path, "interval"))
        limit = item.get("limit", 0) or 0
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            self.problem((*path, "limit"), f"expected a non-negative integer, got {_kind(limit)}")
            limit = 0
        raw_rules = item.get("rules") or []
        if not isinstance(raw_rules, list):
            self.problem((*path, "rules"), f"expected a list, got {_kind(raw_rules)}")
            raw_rules = []
        rules: list[Rule] = []  # one rule name may repeat, as in Prometheus
        for j, raw in enumerate(raw_rules):
            rule = self.rule(raw, (*path, "rules", j))
            if rule is not None:
                rules.append(rule)
        return RuleGroup(name, self.doc.file, tuple(rules), interval, limit)

    def rule(self, raw: object, path: tuple[str | int, ...]) -> Rule | None:
        if not self.mapping(raw, path, _RULE_KEYS):
            return None
        assert isinstance(raw, Mapping)
        record, alert = _scalar_text(raw.get("record")), _scalar_text(raw.get("alert"))
        if record and alert:
            self.problem((*path, "record"), "only one of 'record' and 'alert' must be set")
            return None
        if not record and not alert:
            self.problem(path, "one of 'record' or 'alert' must be set")
            return None
        ok = True
        expr = raw.get("expr")
        node: Node | None = None
        if expr is None or (isinstance(expr, str) and not expr.strip()):
            self.problem((*path, "expr"), "field 'expr' must be set in rule")
            ok = False
        else:
            try:
                node = compile_expr(str(expr), history=self.history)
            except RuleError as exc:
                self.problem((*path, "expr"), str(exc))
                ok = False
        if record:
            return self.recording(raw, path, record, str(expr), node if ok else None)
        hold = self.duration(raw["for"], (*path, "for")) if raw.get("for") is not None else 0.0
        keep = 0.0
        if raw.get("keep_firing_for") is not None:
            keep = self.duration(raw["keep_firing_for"], (*path, "keep_firing_for"))
        labels = self.templates(raw.get("labels"), (*path, "labels"), alert, is_label=True)
        annotations = self.templates(
            raw.get("annotations"), (*path, "annotations"), alert, is_label=False
        )
        if not ok or node is None or labels is None or annotations is None:
            return None
        return AlertingRule(alert, str(expr), node, hold, keep, labels, annotations)

    def recording(
        self, raw: Mapping[str, object], path: tuple[str | int, ...], name: str, expr: str,
        node: Node | None,
    ) -> RecordingRule | None:  # fmt: skip
        """The checks of rulefmt.go's Validate for a ``record:`` rule."""
        ok = node is not None
        where = (*path, "record")
        if raw.get("annotations"):
            self.problem(where, "invalid field 'annotations' in recording rule")
            ok = False
        for key in ("for", "keep_firing_for"):
            if raw.get(key) is not None and self.duration(raw[key], (*path, key)) != 0:
                self.problem(where, f"invalid field '{key}' in recording rule")
                ok = False
        if not _METRIC_NAME.match(name):
            self.problem(where, f"invalid recording rule name: {name}")
            ok = False
        labels = self.plain_labels(raw.get("labels"), (*path, "labels"))
        if not ok or node is None or labels is None:
            return None
        return RecordingRule(name, expr, node, labels)

    def plain_labels(
        self, raw: object, path: tuple[str | int, ...]
    ) -> tuple[tuple[str, str], ...] | None:
        """A recording rule's labels: valid names, values taken as they are."""
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self.problem(path, f"expected a mapping, got {_kind(raw)}")
            return None
        out: list[tuple[str, str]] = []
        ok = True
        for key, value in raw.items():
            name = str(key)
            if not _LABEL_NAME.match(name) or name == "__name__":
                self.problem((*path, name), f"invalid label name: {name}")
                ok = False
            elif isinstance(value, Mapping | list):
                self.problem((*path, name), f"expected a string, got {_kind(value)}")
                ok = False
            else:
                out.append((name, _scalar_text(value)))
        return tuple(sorted(out)) if ok else None

    def templates(
        self, raw: object, path: tuple[str | int, ...], alert: str, *, is_label: bool
    ) -> tuple[tuple[str, Template], ...] | None:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self.problem(path, f"expected a mapping, got {_kind(raw)}")
            return None
        out: list[tuple[str, Template]] = []
        ok = True
        what = "label" if is_label else "annotation"
        for key, value in raw.items():
            name = str(key)
            where = (*path, name)
            if not _LABEL_NAME.match(name) or (is_label and name == "__name__"):
                self.problem(where, f'invalid {what} name "{name}"')
                ok = False
                continue
            if isinstance(value, Mapping | list):
                self.problem(where, f"expected a string, got {_kind(value)}")
                ok = False
                continue
            text = _scalar_text(value)
            try:
                out.append((name, parse_template(text, f"__alert_{alert}")))
            except RuleError as exc:
                self.problem(where, str(exc))
                ok = False
        return tuple(sorted(out, key=lambda kv: kv[0])) if ok else None


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
