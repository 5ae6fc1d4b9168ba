"""Notification templates as Alertmanager runs them: its data model, defaults and files.

(Kept apart from ``watcher.notify`` so the config loader can check templates at load.)

``template_data`` builds Alertmanager's ``template.Data`` (``.Receiver``, ``.Status``,
``.Alerts`` with ``.Firing``/``.Resolved``, ``.GroupLabels``/``.CommonLabels``/
``.CommonAnnotations`` with ``.SortedPairs``/``.Names``/``.Values``/``.Remove``,
``.ExternalURL``; https://prometheus.io/docs/alerting/latest/notifications/). ``load_templates``
parses the shipped defaults, then the config's ``templates:`` files, so a file can override a
default name. Every config string is parsed at load (``check_text``) so a broken template is
a config error, not a raw ``{{ ... }}`` in Slack.
"""

from __future__ import annotations

import functools
import glob
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from watcher.alerts import Alert
from watcher.gotemplate import ExecError, ParseError, Templates
from watcher.gotemplate.am_defaults import DEFAULT_TEMPLATES
from watcher.gotemplate.am_email import EMAIL_TEMPLATES, TELEGRAM_TEMPLATES
from watcher.gotemplate.funcs import ALERTMANAGER
from watcher.gotemplate.values import GoFunc, GoMap, GoSlice, Struct, Time, string_slice

__all__ = ["ExecError", "check_text", "load_templates", "render", "template_data"]

MAX_TEMPLATE_FILE = 1 << 20  # bytes; a template file is text a person wrote


class Notification(Protocol):
    """What one notification is about (``watcher.notify.data.NotificationData``)."""

    @property
    def receiver(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def alerts(self) -> Sequence[Alert]: ...
    @property
    def group_labels(self) -> Mapping[str, str]: ...
    @property
    def common_labels(self) -> Mapping[str, str]: ...
    @property
    def common_annotations(self) -> Mapping[str, str]: ...
    @property
    def external_url(self) -> str: ...
    @property
    def now(self) -> float: ...


class KV(GoMap):
    """``template.KV``: a label or annotation map with Alertmanager's methods."""

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__(items, go_type="template.KV", zero="")

    def sorted_pairs(self) -> GoSlice:
        """``SortedPairs``: ``alertname`` first, then by name."""
        names = sorted(k for k in self if k != "alertname")
        if "alertname" in self:
            names.insert(0, "alertname")
        return _pairs([(k, str(self[k])) for k in names])

    def go_method(self, name: str) -> GoFunc | None:
        """``SortedPairs``, ``Names``, ``Values``, ``Remove``."""
        methods = {
            "SortedPairs": GoFunc("SortedPairs", self.sorted_pairs),
            "Names": GoFunc("Names", lambda: _names(self.sorted_pairs())),
            "Values": GoFunc("Values", lambda: _values(self.sorted_pairs())),
            "Remove": GoFunc(
                "Remove",
                lambda keys: KV({k: str(v) for k, v in self.items() if k not in set(keys or ())}),
                ("[]string",),
            ),
        }
        return methods.get(name)


def _names(pairs: Sequence[object]) -> GoSlice:
    return string_slice(str(dict(p.go_fields())["Name"]) for p in pairs if isinstance(p, Struct))


def _values(pairs: Sequence[object]) -> GoSlice:
    return string_slice(str(dict(p.go_fields())["Value"]) for p in pairs if isinstance(p, Struct))


class _Pairs(GoSlice):
    def go_method(self, name: str) -> GoFunc | None:
        if name == "Names":
            return GoFunc("Names", lambda: _names(self))
        if name == "Values":
            return GoFunc("Values", lambda: _values(self))
        return None


def _pairs(items: Iterable[tuple[str, str]]) -> GoSlice:
    return _Pairs(
        (Struct("template.Pair", [("Name", k), ("Value", v)]) for k, v in items),
        go_type="template.Pairs",
    )


class _Alerts(GoSlice):
    def go_method(self, name: str) -> GoFunc | None:
        if name in ("Firing", "Resolved"):
            want = name.lower()
            return GoFunc(
                name,
                lambda: GoSlice(
                    (a for a in self if isinstance(a, Struct) and _status(a) == want),
                    go_type="[]template.Alert",
                ),
            )
        return None


def _status(alert: Struct) -> str:
    return str(dict(alert.go_fields())["Status"])


def _alert(alert: Alert, now: float, escape: Callable[[str], str]) -> Struct:
    resolved = alert.ends_at is not None and alert.ends_at <= now
    return Struct(
        "template.Alert",
        [
            ("Status", "resolved" if resolved else "firing"),
            ("Labels", KV({k: escape(v) for k, v in alert.labels.items()})),
            ("Annotations", KV({k: escape(v) for k, v in alert.annotations.items()})),
            ("StartsAt", Time(alert.starts_at)),
            ("EndsAt", Time(alert.ends_at)),
            ("GeneratorURL", alert.generator_url),
            ("Fingerprint", alert.fingerprint),
        ],
    )


def template_data(data: Notification, escape: Callable[[str], str] = str) -> Struct:
    """Alertmanager's ``*template.Data`` for one notification.

    ``escape`` is applied to every label and annotation value (the Slack notifier passes its
    mrkdwn escaping: upstream text is data, never markup).
    """
    return Struct(
        "*template.Data",
        [
            ("Receiver", re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", data.receiver)),
            ("Status", data.status),
            (
                "Alerts",
                _Alerts(
                    (_alert(a, data.now, escape) for a in data.alerts), go_type="template.Alerts"
                ),
            ),
            ("GroupLabels", KV({k: escape(v) for k, v in data.group_labels.items()})),
            ("CommonLabels", KV({k: escape(v) for k, v in data.common_labels.items()})),
            ("CommonAnnotations", KV({k: escape(v) for k, v in data.common_annotations.items()})),
            ("ExternalURL", data.external_url),
        ],
    )


@functools.cache
def _defaults() -> Templates:
    templates = Templates(ALERTMANAGER)
    templates.parse(DEFAULT_TEMPLATES, "default.tmpl")
    templates.parse(EMAIL_TEMPLATES + TELEGRAM_TEMPLATES, "email.tmpl")
    return templates


def load_templates(patterns: Sequence[str] = (), base: Path | None = None) -> Templates:
    """The defaults, then every file matching ``patterns``; raise ``ValueError`` naming the file.

    Relative patterns are relative to ``base`` (the config file's directory), as Alertmanager
    resolves them. A pattern that matches nothing is allowed, as upstream.
    """
    templates = _defaults().clone()
    for pattern in patterns:
        full = str(Path(base or ".") / pattern) if not Path(pattern).is_absolute() else pattern
        for path in sorted(glob.glob(full)):
            file = Path(path)
            if file.stat().st_size > MAX_TEMPLATE_FILE:
                msg = f"{path}: template file larger than {MAX_TEMPLATE_FILE} bytes"
                raise ValueError(msg)
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                msg = f"{path}: cannot read template file: {type(exc).__name__}"
                raise ValueError(msg) from None
            try:
                templates.parse(text, file.name)
            except ParseError as exc:
                msg = f"{path}: {exc}"
                raise ValueError(msg) from None
    return templates


def check_text(templates: Templates, text: str) -> str | None:
    """Go's parse error for a config template string, or None when it parses."""
    try:
        templates.clone().parse(text, "")
    except ParseError as exc:
        return str(exc)
    return None


def render(templates: Templates, text: str, data: Struct) -> str:
    """Alertmanager's ``ExecuteTextString``; raise ``ExecError`` as the notifier would fail."""
    return templates.execute_text(text, data)
