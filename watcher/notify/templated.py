"""Rendering a receiver's template keys as Alertmanager's ``notify.TmplText`` does.

Alertmanager drops a notification whose template fails at run time (a missing template, a
call on the wrong type). The watcher sends it with Go's error text in place of the value and
logs the failure (as its Slack notifier does): a page naming the broken template is better
than none.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from watcher.gotemplate import ExecError, Templates
from watcher.gotemplate.alertmanager import load_templates, template_data
from watcher.notify.data import NotificationData

log = structlog.get_logger(__name__)

Render = Callable[[str], str]


def renderer(templates: Templates | None, data: NotificationData, integration: str) -> Render:
    """A function rendering one config string over ``data`` (no escaping of values)."""
    tmpl = templates or load_templates()
    struct = template_data(data)

    def render(text: str) -> str:
        try:
            return tmpl.execute_text(text, struct)
        except ExecError as exc:
            log.warning("notify.template_failed", integration=integration, error=str(exc))
            return str(exc)

    return render


def truncate_runes(text: str, limit: int, what: str = "") -> str:
    """``notify.TruncateInRunes``: at most ``limit`` runes, the last one ``…`` when cut.

    A cut is logged when ``what`` names the field (Alertmanager warns "Truncated summary").
    """
    if len(text) <= limit:
        return text
    if what:
        log.warning("notify.truncated", field=what, max_runes=limit, runes=len(text))
    return text[:limit] if limit <= 3 else text[: limit - 1] + "…"


def safe_split(text: str, sep: str) -> list[str]:
    """Opsgenie's ``safeSplit``: split the trimmed text on ``sep``, drop empty items."""
    return [x for x in text.strip().split(sep) if x]
