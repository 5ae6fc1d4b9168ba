"""``slack_configs``: the incoming-webhook message Alertmanager's Slack notifier sends.

Field for field as ``notify/slack/slack.go`` (request and attachment structs, their order and
``omitempty``), every text key a Go template over Alertmanager's data, encoded as Go's JSON
encoder writes it. Label and annotation values are escaped for Slack mrkdwn (``&`` ``<``
``>``; https://api.slack.com/reference/surfaces/formatting#escaping) before any template sees
them, so an upstream string can neither ping ``<!channel>`` nor plant a link; the template
text an operator wrote is markup and stays as written. URL keys see the values unescaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import structlog

from watcher.alerts import Alert
from watcher.config import Config, SlackConfig
from watcher.gotemplate import ExecError, Templates
from watcher.gotemplate.alertmanager import load_templates, template_data
from watcher.gotemplate.values import Struct
from watcher.notify.base import HttpNotifier, Payload
from watcher.notify.data import NotificationData, is_resolved
from watcher.notify.gojson import encode

log = structlog.get_logger(__name__)

MAX_TITLE_RUNES = 1024  # Slack truncates longer titles; Alertmanager cuts them first
_RUNBOOK_KEYS = ("runbook_url", "runbook")


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_value(value: float) -> str:
    """A sample value the way a human reads it (no float noise)."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _alert_text(alert: Alert, now: float) -> list[str]:
    e = escape_mrkdwn
    resolved = is_resolved(alert, now)
    summary = alert.annotations.get("summary") or alert.name
    severity = alert.labels.get("severity")
    lines = [
        f"*Alert:* {e(summary)}"
        + (f" - `{e(severity)}`" if severity else "")
        + (" (resolved)" if resolved else "")
    ]
    if description := alert.annotations.get("description"):
        lines.append(f"*Description:* {e(description)}")
    at = " at resolution" if resolved else ""
    lines.append(f"*Value{at}:* {format_value(alert.value)}")
    runbook = next((alert.annotations[k] for k in _RUNBOOK_KEYS if alert.annotations.get(k)), None)
    if runbook:
        lines.append(f"*Runbook:* <{e(runbook)}|:notebook:>")
    lines.append("*Details:*")
    lines.extend(f" • *{k}:* `{e(v)}`" for k, v in sorted(alert.labels.items()))
    return lines


def default_text(data: NotificationData) -> str:
    """The watcher's default ``text``: every alert of the group, firing ones first."""
    blocks = ["\n".join(_alert_text(a, data.now)) for a in (*data.firing, *data.resolved)]
    return "\n\n".join(blocks)


def truncate_runes(text: str, limit: int) -> str:
    """``notify.TruncateInRunes``: at most ``limit`` runes, the last one ``…`` when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def _default_templates() -> Templates:
    return load_templates()


def config_templates(config: Config) -> Templates:
    """The defaults plus the config's ``templates:`` files (checked when the config loaded)."""
    if not config.templates:
        return _default_templates()
    try:
        return load_templates(config.templates, config.file.parent)
    except ValueError as exc:  # a file changed since the config was checked
        log.error("notify.templates_failed", error=str(exc))
        return _default_templates()


def _renderer(templates: Templates, data: Struct, what: str) -> Callable[[str], str]:
    def render(text: str) -> str:
        try:
            return templates.execute_text(text, data)
        except ExecError as exc:
            # Alertmanager drops the notification; a page with the error in it is better.
            log.warning("notify.template_failed", integration="slack", key=what, error=str(exc))
            return str(exc)

    return render


def slack_payload(
    config: SlackConfig, data: NotificationData, templates: Templates | None = None
) -> Payload:
    """The incoming-webhook body, in Alertmanager's field order."""
    templates = templates or _default_templates()
    text_of = _renderer(templates, template_data(data, escape_mrkdwn), "text")
    url_of = _renderer(templates, template_data(data), "url")
    attachment: Payload = {}

    def put(key: str, value: str, *, omit_empty: bool = True) -> None:
        if value or not omit_empty:
            attachment[key] = value

    put("title", truncate_runes(text_of(config.title), MAX_TITLE_RUNES))
    put("title_link", url_of(config.title_link))
    put("pretext", text_of(config.pretext))
    text = default_text(data) if config.text is None else text_of(config.text)
    put("text", text, omit_empty=False)
    put("fallback", text_of(config.fallback), omit_empty=False)
    put("callback_id", text_of(config.callback_id), omit_empty=False)
    if config.fields:
        attachment["fields"] = [
            {
                **({"title": t} if (t := text_of(f.title)) else {}),
                **({"value": v} if (v := text_of(f.value)) else {}),
                "short": config.short_fields if f.short is None else f.short,
            }
            for f in config.fields
        ]
    if config.actions:
        attachment["actions"] = [_action(a, text_of, url_of) for a in config.actions]
    put("image_url", url_of(config.image_url))
    put("thumb_url", url_of(config.thumb_url))
    put("footer", text_of(config.footer), omit_empty=False)
    put("color", text_of(config.color))
    attachment["mrkdwn_in"] = list(config.mrkdwn_in) or ["fallback", "pretext", "text"]
    body: Payload = {}
    for key, value in (
        ("channel", text_of(config.channel or "")),
        ("username", text_of(config.username)),
        ("icon_emoji", text_of(config.icon_emoji)),
        ("icon_url", url_of(config.icon_url)),
    ):
        if value:
            body[key] = value
    if config.link_names:
        body["link_names"] = True
    body["attachments"] = [attachment]
    return body


def _action(action: object, text_of: Callable[[str], str], url_of: Callable[[str], str]) -> Payload:
    out: Payload = {}
    for key in ("type", "text", "url", "style", "name", "value"):
        value = (url_of if key == "url" else text_of)(getattr(action, key))
        if value:
            out[key] = value
    confirm = getattr(action, "confirm", None)
    if confirm is not None:
        out["confirm"] = {
            k: v
            for k in ("text", "title", "ok_text", "dismiss_text")
            if (v := text_of(getattr(confirm, k)))
        }
    return out


class SlackNotifier(HttpNotifier[SlackConfig]):
    """POSTs to the incoming-webhook URL; Slack's 429 ``Retry-After`` is honoured by retry."""

    name = "slack"

    def render(self, data: NotificationData) -> Payload:
        """The Slack body."""
        return slack_payload(self._config, data, self._templates)

    async def deliver(self, payload: Payload, now: float) -> None:
        """POST it, encoded as Alertmanager's Go encoder writes it."""
        await self._post(self._config.api_url.get(), encode(payload), now)
