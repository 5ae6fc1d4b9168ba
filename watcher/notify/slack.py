"""``slack_configs``: a Slack incoming-webhook message with one attachment per group.

Body shape as Alertmanager sends it (https://api.slack.com/messaging/webhooks,
https://api.slack.com/reference/messaging/attachments): ``channel``/``username``/``icon_emoji``
and ``attachments[]`` with ``title``, ``title_link``, ``text``, ``fallback``, ``color``,
``mrkdwn_in``. The default text lists each alert's summary, description, value (the value at
resolution for resolved alerts), runbook link and labels.
"""

from __future__ import annotations

import math

import aiohttp

from watcher.alerts import Alert
from watcher.config import SlackConfig
from watcher.notify.data import NotificationData, is_resolved
from watcher.notify.http import post_json
from watcher.notify.integrations import Payload
from watcher.notify.template import render

# Worst severity present picks the colour of a firing message.
_SEVERITY_COLOURS = (
    (("critical", "page", "error"), "danger"),
    (("warning", "warn"), "warning"),
    (("info", "none"), "#439FE0"),
)
_RUNBOOK_KEYS = ("runbook_url", "runbook")


def format_value(value: float) -> str:
    """A sample value the way a human reads it (no float noise)."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def colour(data: NotificationData) -> str:
    """``good`` once resolved, else by the worst ``severity`` label among firing alerts."""
    if data.status == "resolved":
        return "good"
    severities = {a.labels.get("severity", "").lower() for a in data.firing}
    for names, name_colour in _SEVERITY_COLOURS:
        if severities & set(names):
            return name_colour
    return "danger"


def default_title(data: NotificationData) -> str:
    """``[FIRING:2] CouponExpiring coinw-main``, like Alertmanager's ``slack.default.title``."""
    count = f":{len(data.firing)}" if data.status == "firing" else ""
    values = " ".join(v for _, v in sorted(data.group_labels.items()))
    return f"[{data.status.upper()}{count}] {values}".rstrip()


def _alert_text(alert: Alert, now: float) -> list[str]:
    resolved = is_resolved(alert, now)
    summary = alert.annotations.get("summary") or alert.name
    severity = alert.labels.get("severity")
    lines = [
        f"*Alert:* {summary}"
        + (f" - `{severity}`" if severity else "")
        + (" (resolved)" if resolved else "")
    ]
    if description := alert.annotations.get("description"):
        lines.append(f"*Description:* {description}")
    at = " at resolution" if resolved else ""
    lines.append(f"*Value{at}:* {format_value(alert.value)}")
    runbook = next((alert.annotations[k] for k in _RUNBOOK_KEYS if alert.annotations.get(k)), None)
    if runbook:
        lines.append(f"*Runbook:* <{runbook}|:notebook:>")
    lines.append("*Details:*")
    lines.extend(f" • *{k}:* `{v}`" for k, v in sorted(alert.labels.items()))
    return lines


def default_text(data: NotificationData) -> str:
    """Every alert of the group, firing ones first."""
    blocks = ["\n".join(_alert_text(a, data.now)) for a in (*data.firing, *data.resolved)]
    return "\n\n".join(blocks)


def slack_payload(config: SlackConfig, data: NotificationData) -> Payload:
    """The incoming-webhook body."""
    title = render(config.title, data) if config.title is not None else default_title(data)
    text = render(config.text, data) if config.text is not None else default_text(data)
    attachment: Payload = {
        "title": title,
        "text": text,
        "fallback": title,
        "color": colour(data),
        "mrkdwn_in": ["fallback", "pretext", "text"],
    }
    if data.external_url:
        attachment["title_link"] = data.external_url
    body: Payload = {"attachments": [attachment]}
    for key, value in (
        ("channel", config.channel),
        ("username", config.username),
        ("icon_emoji", config.icon_emoji),
    ):
        if value:
            body[key] = value
    return body


class SlackNotifier:
    """POSTs to the incoming-webhook URL; Slack's 429 ``Retry-After`` is honoured by retry."""

    name = "slack"

    def __init__(self, config: SlackConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session

    @property
    def send_resolved(self) -> bool:
        """``send_resolved`` (default false for Slack, as upstream)."""
        return self._config.send_resolved

    def render(self, data: NotificationData) -> Payload:
        """The Slack body."""
        return slack_payload(self._config, data)

    async def deliver(self, payload: Payload, now: float) -> None:
        """POST it."""
        await post_json(
            self._session,
            self._config.api_url.get(),
            payload,
            self._config.http,
            what="slack",
            now=now,
        )
