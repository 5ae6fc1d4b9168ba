"""The page's alerts: the rule manager's pending and firing alerts, joined with the dispatcher's
view of them (silenced, inhibited), and each value formatted the way its rule formats it.

Pending alerts are not in ``/api/v2/alerts``: like Prometheus, the rule engine sends an alert to
notification only once it fires. The page shows them, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.alerts import fingerprint
from watcher.gotemplate.funcs import humanize, humanize_duration, humanize_timestamp
from watcher.page import fmt
from watcher.rules import RuleGroup
from watcher.rules.loader import AlertingRule

if TYPE_CHECKING:
    from watcher.server.views import StatusView

SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
_PRINTF = re.compile(r'printf\s+"%\.(\d)f"\s+\$value')


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One pending or firing alert."""

    name: str
    state: str  # "firing" or "pending"
    severity: str
    summary: str
    description: str
    value: str
    since: float  # firing since (fired_at) or pending since (active_at)
    hold: float  # the rule's ``for``
    labels: tuple[tuple[str, str], ...]  # as sent to notification (external labels included)
    fingerprint: str
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]


def alert_rows(view: StatusView) -> tuple[AlertRow, ...]:
    """Firing alerts first, then pending; within each, by severity, then name and labels."""
    rules = _rules(view.rules.groups)
    external = view.rules.external_labels
    status = {s.alert.fingerprint: s for s in view.dispatcher.alerts()}
    out = []
    for a in view.rules.active():
        labels = dict(external)
        labels.update(a.labels)
        fp = fingerprint(labels)
        rule = rules.get((a.group, a.alertname))
        seen = status.get(fp)
        firing = a.state == "firing"
        since = a.fired_at if firing and a.fired_at is not None else a.active_at
        out.append(
            AlertRow(
                name=a.alertname,
                state=a.state,
                severity=labels.get("severity", ""),
                summary=a.annotations.get("summary", ""),
                description=a.annotations.get("description", ""),
                value=format_value(rule, labels, a.value),
                since=since,
                hold=0.0 if rule is None else rule.hold,
                labels=tuple(sorted(labels.items())),
                fingerprint=fp,
                silenced_by=() if seen is None else seen.silenced_by,
                inhibited_by=() if seen is None else seen.inhibited_by,
            )
        )
    return tuple(
        sorted(
            out,
            key=lambda r: (
                r.state != "firing",
                SEVERITY_ORDER.get(r.severity, 9),
                r.name,
                r.labels,
            ),
        )
    )


def _rules(groups: list[RuleGroup]) -> dict[tuple[str, str], AlertingRule]:
    out: dict[tuple[str, str], AlertingRule] = {}
    for group in groups:
        for rule in group.alerting:
            out.setdefault((group.name, rule.name), rule)
    return out


def format_value(rule: AlertingRule | None, labels: Mapping[str, str], value: float) -> str:
    """``$value`` as the rule's annotations format it, else by the unit in the metric's name."""
    try:
        return _format(rule, labels, value)
    except ValueError:  # a timestamp out of range: show the number
        return fmt.number(value)


def _format(rule: AlertingRule | None, labels: Mapping[str, str], value: float) -> str:
    text = "" if rule is None else " ".join(t.text for _, t in rule.annotations)
    if "humanizeDuration $value" in text:
        return humanize_duration(value)
    if "humanizeTimestamp $value" in text:
        return humanize_timestamp(value)
    if "humanizePercentage $value" in text:
        return f"{value * 100:.4g}%"
    if (m := _PRINTF.search(text)) is not None:
        shown = f"{value:,.{int(m.group(1))}f}"
        return f"{shown} {labels['currency']}" if "$labels.currency" in text else shown
    if "humanize $value" in text:
        return humanize(value)
    expr = "" if rule is None else rule.expr
    if "_timestamp_seconds" in expr and "time()" in expr:
        return fmt.duration(value)  # an instant minus now: a duration
    if "_timestamp_seconds" in expr:
        return fmt.absolute(value)
    if "_seconds" in expr:
        return fmt.duration(value)
    if "balance" in expr and "currency" in labels:
        return f"{fmt.amount(value)} {labels['currency']}"
    return fmt.number(value)
