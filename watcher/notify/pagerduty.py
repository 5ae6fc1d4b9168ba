"""``pagerduty_configs``: the Events API v2 (and v1) events Alertmanager 0.25 sends.

Field for field as ``notify/pagerduty/pagerduty.go``: the message struct's order and
``omitempty`` rules, ``dedup_key`` (v1: ``incident_key``) the SHA-256 of the group key (so a
resolve event closes the incident its trigger opened), ``summary`` cut to 1024 runes,
``severity`` "error" when unset, images and links without a ``src``/``href`` left out, and an
event over 512 KB sent with its custom details replaced by Alertmanager's notice. Encoded as
Go's JSON encoder writes it.

The routing (or service) key is a credential: the outbox row holds the event without it and
``deliver`` puts it back, first, as Alertmanager's struct has it. A key written as a template
(``{{ .CommonLabels.pd_key }}``) is rendered from the alerts and stored with them.
"""

from __future__ import annotations

import hashlib

import structlog

from watcher.config.model import PagerdutyConfig
from watcher.config.pagerduty import V1_URL
from watcher.errors import NotifyError
from watcher.gotemplate import Templates
from watcher.notify.base import HttpNotifier, Payload
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.post import RETRY_CODES
from watcher.notify.templated import Render, renderer, truncate_runes

log = structlog.get_logger(__name__)

MAX_EVENT_BYTES = 512_000
MAX_SUMMARY_RUNES = 1024  # v2 summary and v1 description
TOO_LARGE = (
    "Custom details have been removed because the original event exceeds the maximum size of 512KB"
)
_KEY = "routing_key"  # payload entry holding a templated key (v1: service_key)


def dedup_key(group_key: str) -> str:
    """``notify.Key.Hash``: the hex SHA-256 of the group key."""
    return hashlib.sha256(group_key.encode()).hexdigest()


def _v2(c: PagerdutyConfig, data: NotificationData, tmpl: Render) -> Payload:
    action = "resolve" if data.status == "resolved" else "trigger"
    body: Payload = {"dedup_key": dedup_key(data.group_key), "event_action": action}
    event: Payload = {
        "summary": truncate_runes(tmpl(c.description), MAX_SUMMARY_RUNES, "pagerduty summary"),
        "source": tmpl(c.source),
        "severity": tmpl(c.severity or "error"),
    }
    for key, value in (("class", c.class_), ("component", c.component), ("group", c.group)):
        if rendered := tmpl(value):
            event[key] = rendered
    details = {k: tmpl(v) for k, v in sorted(c.details.items())}
    if details:
        event["custom_details"] = details
    body["payload"] = event
    for key, value in (("client", c.client), ("client_url", c.client_url)):
        if rendered := tmpl(value):
            body[key] = rendered
    images = [
        {"src": src, "alt": tmpl(i.alt), "href": tmpl(i.href)}
        for i in c.images
        if (src := tmpl(i.src))
    ]
    links = [{"href": href, "text": tmpl(x.text)} for x in c.links if (href := tmpl(x.href))]
    if images:
        body["images"] = images
    if links:
        body["links"] = links
    return body


def _v1(c: PagerdutyConfig, data: NotificationData, tmpl: Render) -> Payload:
    event_type = "resolve" if data.status == "resolved" else "trigger"
    body: Payload = {
        "incident_key": dedup_key(data.group_key),
        "event_type": event_type,
        "description": truncate_runes(
            tmpl(c.description), MAX_SUMMARY_RUNES, "pagerduty description"
        ),
        "event_action": "",  # not omitempty in Alertmanager's struct
        "payload": None,
    }
    if event_type == "trigger":
        for key, value in (("client", c.client), ("client_url", c.client_url)):
            if rendered := tmpl(value):
                body[key] = rendered
    details = {k: tmpl(v) for k, v in sorted(c.details.items())}
    if details:
        body["details"] = details
    return body


def pagerduty_event(
    c: PagerdutyConfig, data: NotificationData, templates: Templates | None = None
) -> Payload:
    """The event to store: Alertmanager's message without a plain routing key."""
    tmpl = renderer(templates, data, "pagerduty")
    body = _v1(c, data, tmpl) if c.v1 else _v2(c, data, tmpl)
    secret = c.service_key if c.v1 else c.routing_key
    key = secret.get() if secret is not None else ""
    templated = "{{" in key
    if templated:
        key = tmpl(key)
    if (size := len(encode(_with_key(c, body, key)))) > MAX_EVENT_BYTES:
        log.warning(
            "notify.truncated", field="pagerduty details", bytes=size, max_bytes=MAX_EVENT_BYTES
        )
        if c.v1:
            body["details"] = {"error": TOO_LARGE}
        else:
            body["payload"]["custom_details"] = {"error": TOO_LARGE}
    return {_KEY: key, **body} if templated else body


def _with_key(c: PagerdutyConfig, body: Payload, key: str) -> Payload:
    name = "service_key" if c.v1 else "routing_key"
    return {name: key, **{k: v for k, v in body.items() if k != _KEY}}


class PagerdutyNotifier(HttpNotifier[PagerdutyConfig]):
    """POSTs events to ``url`` (v1: the v1 endpoint); 5xx and 429 (v1: 403) are retried."""

    name = "pagerduty"

    def render(self, data: NotificationData) -> Payload:
        """The event, without the key."""
        return pagerduty_event(self._config, data, self._templates)

    async def deliver(self, payload: Payload, now: float) -> None:
        """Add the key and POST the event, encoded as Go's encoder writes it."""
        c = self._config
        if _KEY in payload:
            key = str(payload[_KEY])
        else:
            secret = c.service_key if c.v1 else c.routing_key
            key = secret.get() if secret is not None else ""
        if not key:
            msg = "pagerduty: the routing key is empty after templating"
            raise NotifyError(msg, permanent=True)
        # Alertmanager 0.25 sends v1 events to the v1 endpoint whatever ``url`` says; an
        # explicit ``url`` on the entry is honoured here (a proxy, a test sink).
        url = c.url if not c.v1 or c.url_set else V1_URL
        await self._post(
            url,
            encode(_with_key(c, payload, key)),
            now,
            # https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic
            retry_codes=RETRY_CODES | ({403} if c.v1 else set()),
        )
