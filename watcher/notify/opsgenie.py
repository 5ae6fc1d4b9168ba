"""``opsgenie_configs``: the Alert API requests Alertmanager 0.25's Opsgenie notifier sends.

As ``notify/opsgenie/opsgenie.go``: a firing group creates an alert (``POST v2/alerts``) whose
``alias`` is the SHA-256 of the group key, and with ``update_alerts`` also updates its message
and description (``PUT v2/alerts/<alias>/message`` and ``.../description``); a resolved group
closes it (``POST v2/alerts/<alias>/close?identifierType=alias``). ``details`` are the common
labels overlaid with the configured ones, ``message`` is cut to 130 runes, ``tags`` and
``actions`` are comma-separated, and a ``teams`` responder becomes one ``team`` per name. Each
body is encoded as Go's JSON encoder writes it; ``Authorization: GenieKey <key>``.

The stored payload is the list of requests, paths relative to ``api_url``, without the API key:
``deliver`` adds it (a key written as a template is rendered from the alerts and stored with
them). The requests of one notification are sent in order; a failure retries them all, as
Alertmanager retries the whole ``Notify``.
"""

from __future__ import annotations

from watcher.config.model import OpsgenieConfig
from watcher.errors import NotifyError
from watcher.gotemplate import Templates
from watcher.notify.base import HttpNotifier, Payload
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.pagerduty import dedup_key
from watcher.notify.templated import Render, renderer, safe_split, truncate_runes

MAX_MESSAGE_RUNES = 130  # https://docs.opsgenie.com/docs/alert-api
_KEY = "api_key"  # payload entry holding a templated key


def _responders(c: OpsgenieConfig, tmpl: Render) -> list[Payload]:
    out: list[Payload] = []
    for r in c.responders:
        fields = {"id": tmpl(r.id), "name": tmpl(r.name), "username": tmpl(r.username)}
        kind = tmpl(r.type)
        if not any(fields.values()) and not kind:
            continue  # filled from labels that are not there: left out, as upstream
        if kind == "teams":
            out += [
                {"name": tmpl(team), "type": tmpl("team")}
                for team in safe_split(fields["name"], ",")
            ]
            continue
        out.append({**{k: v for k, v in fields.items() if v}, "type": kind})
    return out


def _create(c: OpsgenieConfig, data: NotificationData, tmpl: Render, alias: str) -> list[Payload]:
    details = dict(data.common_labels)
    details.update({k: tmpl(v) for k, v in c.details.items()})
    message = truncate_runes(tmpl(c.message), MAX_MESSAGE_RUNES, "opsgenie message")
    description = tmpl(c.description)
    body: Payload = {"alias": alias, "message": message}
    if description:
        body["description"] = description
    body["details"] = dict(sorted(details.items()))
    body["source"] = tmpl(c.source)
    optional: list[tuple[str, object]] = [
        ("responders", _responders(c, tmpl)),
        ("tags", safe_split(tmpl(c.tags), ",")),
        ("note", tmpl(c.note)),
        ("priority", tmpl(c.priority)),
        ("entity", tmpl(c.entity)),
        ("actions", safe_split(tmpl(c.actions), ",")),
    ]
    body.update({k: v for k, v in optional if v})
    requests: list[Payload] = [{"method": "POST", "path": "v2/alerts", "body": body}]
    if c.update_alerts:
        query = "?identifierType=alias"
        for what, value in (("message", message), ("description", description)):
            requests.append(
                {
                    "method": "PUT",
                    "path": f"v2/alerts/{alias}/{what}{query}",
                    "body": {what: value} if value else {},
                }
            )
    return requests


def opsgenie_requests(
    c: OpsgenieConfig, data: NotificationData, templates: Templates | None = None
) -> Payload:
    """The requests to store: create (and update) for a firing group, close for a resolved one."""
    tmpl = renderer(templates, data, "opsgenie")
    alias = dedup_key(data.group_key)
    if data.status == "resolved":
        path = f"v2/alerts/{alias}/close?identifierType=alias"
        requests = [{"method": "POST", "path": path, "body": {"source": tmpl(c.source)}}]
    else:
        requests = _create(c, data, tmpl, alias)
    payload: Payload = {"requests": requests}
    if "{{" in c.api_key.get():
        payload[_KEY] = tmpl(c.api_key.get())
    return payload


class OpsgenieNotifier(HttpNotifier[OpsgenieConfig]):
    """Sends the stored requests to ``api_url`` in order; 5xx and 429 are retried."""

    name = "opsgenie"

    def render(self, data: NotificationData) -> Payload:
        """The requests, without the key."""
        return opsgenie_requests(self._config, data, self._templates)

    async def deliver(self, payload: Payload, now: float) -> None:
        """Send each request with ``Authorization: GenieKey <key>``."""
        c = self._config
        key = str(payload[_KEY]) if _KEY in payload else c.api_key.get()
        if not key:
            msg = "opsgenie: the API key is empty after templating"
            raise NotifyError(msg, permanent=True)
        for request in payload["requests"]:
            await self._post(
                c.api_url + str(request["path"]),
                encode(request["body"]),
                now,
                method=str(request["method"]),
                headers={"Authorization": f"GenieKey {key}"},
            )
