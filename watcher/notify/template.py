"""A small subset of Alertmanager's notification templates, for Slack ``title`` / ``text``.

Supported actions (Go template syntax, https://prometheus.io/docs/alerting/latest/notifications/):
``{{ .Status }}``, ``{{ .Receiver }}``, ``{{ .ExternalURL }}``, ``{{ .GroupKey }}``,
``{{ .GroupLabels.NAME }}``, ``{{ .CommonLabels.NAME }}``, ``{{ .CommonAnnotations.NAME }}``,
``{{ len .Alerts }}`` / ``{{ .Alerts | len }}`` and the same for ``.Alerts.Firing`` and
``.Alerts.Resolved``, each optionally piped to ``toUpper`` / ``toLower`` / ``title``.
Anything else is reported by ``check_template`` and rendered verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from watcher.notify.data import NotificationData

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_MAP_FIELD = re.compile(
    r"^\.(GroupLabels|CommonLabels|CommonAnnotations)\.([A-Za-z_][A-Za-z0-9_]*)$"
)
_ALERTS = r"(\.Alerts(?:\.Firing|\.Resolved)?)"
_LEN = re.compile(rf"^(?:len\s+{_ALERTS}|{_ALERTS}\s*\|\s*len)$")
_PIPES: dict[str, Callable[[str], str]] = {
    "toUpper": str.upper,
    "toLower": str.lower,
    "title": str.title,
}


def _value(expr: str, data: NotificationData) -> str | None:
    m = _LEN.match(expr)
    if m:
        field = m.group(1) or m.group(2)
        alerts = {
            ".Alerts": data.alerts,
            ".Alerts.Firing": data.firing,
            ".Alerts.Resolved": data.resolved,
        }[field]
        return str(len(alerts))
    simple = {
        ".Status": data.status,
        ".Receiver": data.receiver,
        ".ExternalURL": data.external_url,
        ".GroupKey": data.group_key,
    }
    if expr in simple:
        return simple[expr]
    m = _MAP_FIELD.match(expr)
    if m:
        source = {
            "GroupLabels": data.group_labels,
            "CommonLabels": data.common_labels,
            "CommonAnnotations": data.common_annotations,
        }[m.group(1)]
        return source.get(m.group(2), "")
    return None


def _evaluate(action: str, data: NotificationData) -> str | None:
    head, *pipes = [p.strip() for p in action.split("|")]
    if pipes and pipes[0] == "len":
        head, pipes = f"{head} | len", pipes[1:]
    value = _value(head, data)
    for pipe in pipes:
        fn = _PIPES.get(pipe)
        if value is None or fn is None:
            return None
        value = fn(value)
    return value


def render(template: str, data: NotificationData) -> str:
    """Expand the supported actions of ``template``; unsupported ones stay verbatim."""

    def sub(m: re.Match[str]) -> str:
        value = _evaluate(m.group(1), data)
        return m.group(0) if value is None else value

    return _ACTION.sub(sub, template)


def check_template(template: str) -> list[str]:
    """Problems with ``template``: every action this subset cannot render."""
    probe = NotificationData(
        receiver="", group_key="", group_labels={}, alerts=(), external_url="", now=0.0
    )
    return [
        f'unsupported template action "{m.group(0)}"'
        for m in _ACTION.finditer(template)
        if _evaluate(m.group(1), probe) is None
    ]
