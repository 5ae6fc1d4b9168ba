"""The notification config as Alertmanager YAML, for ``/api/v2/status`` ``config.original``.

amtool parses ``config.original`` with Alertmanager's own loader (``amtool config routes
show|test``), so only Alertmanager's keys appear: the route tree, receivers with their
``slack_configs`` / ``webhook_configs`` / ``email_configs`` / ``telegram_configs`` /
``pagerduty_configs`` / ``opsgenie_configs``, inhibit rules and template files. Every secret is
``<secret>``, the token Alertmanager itself prints and reads back; watcher-only receivers
(``console_configs``, ``alertmanager_configs``) and ``msteams_configs`` (which Alertmanager
0.25's loader rejects) are left out, their receiver kept by name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import yaml

from watcher.config import Config, HttpConfig, RouteConfig, SlackConfig, WebhookConfig
from watcher.config.model import EmailConfig, TelegramConfig
from watcher.config.opsgenie import opsgenie_original
from watcher.config.pagerduty import pagerduty_original
from watcher.config.slack import TEXT_KEYS as SLACK_TEXT_KEYS
from watcher.durations import format_duration

SECRET = "<secret>"  # noqa: S105 - the placeholder Alertmanager prints, not a secret
_ENCODED = quote(SECRET)
_SLACK_DEFAULTS = SlackConfig(api_url=None)  # type: ignore[arg-type]


def _http(http: HttpConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if http.bearer_token is not None:
        out["authorization"] = {"type": "Bearer", "credentials": SECRET}
    if http.basic_auth is not None:
        out["basic_auth"] = {"username": http.basic_auth[0], "password": SECRET}
    return {"http_config": out} if out else {}


def _route(r: RouteConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "receiver": r.receiver,
        "group_by": ["..."] if r.group_by is None else list(r.group_by),
    }
    if r.matchers:
        out["matchers"] = [str(m) for m in r.matchers]
    if r.continue_:
        out["continue"] = True
    out.update(
        group_wait=format_duration(r.group_wait),
        group_interval=format_duration(r.group_interval),
        repeat_interval=format_duration(r.repeat_interval),
    )
    if r.routes:
        out["routes"] = [_route(c) for c in r.routes]
    return out


def _slack(c: SlackConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"send_resolved": c.send_resolved, **_http(c.http), "api_url": SECRET}
    for key in SLACK_TEXT_KEYS:
        value = getattr(c, key)
        if value is not None and value != getattr(_SLACK_DEFAULTS, key):
            out[key] = value
    if c.link_names:
        out["link_names"] = True
    if c.mrkdwn_in:
        out["mrkdwn_in"] = list(c.mrkdwn_in)
    if c.short_fields:
        out["short_fields"] = True
    if c.fields:
        out["fields"] = [
            {"title": f.title, "value": f.value, **({} if f.short is None else {"short": f.short})}
            for f in c.fields
        ]
    if c.actions:
        out["actions"] = [
            {
                k: v
                for k in ("type", "text", "url", "style", "name", "value")
                if (v := getattr(a, k))
            }
            for a in c.actions
        ]
    return out


def redact_url(url: str) -> str:
    """``url`` without what may be a credential: user info and query values become
    ``<secret>`` (percent-encoded, so Alertmanager's loader still parses the URL)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if parts.username is not None or parts.password is not None:
        host = f"{_ENCODED}@{host}"
    query = "&".join(f"{k}={_ENCODED}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _webhook(c: WebhookConfig) -> dict[str, Any]:
    # Alertmanager 0.25 reads a webhook url as a plain URL: "<secret>" would not load.
    return {
        "send_resolved": c.send_resolved,
        **_http(c.http),
        "url": redact_url(c.url.get()),
        "max_alerts": c.max_alerts,
    }


def _email(c: EmailConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "send_resolved": c.send_resolved,
        "to": c.to,
        "from": c.from_,
        "hello": c.hello,
        "smarthost": f"{c.smarthost[0]}:{c.smarthost[1]}",
    }
    if c.auth_username:
        out["auth_username"] = c.auth_username
    if c.auth_password is not None:
        out["auth_password"] = SECRET
    if c.auth_secret is not None:
        out["auth_secret"] = SECRET
    if c.auth_identity:
        out["auth_identity"] = c.auth_identity
    out.update(headers=dict(c.headers), html=c.html, text=c.text, require_tls=c.require_tls)
    return {k: v for k, v in out.items() if v != ""}


def _telegram(c: TelegramConfig) -> dict[str, Any]:
    return {
        "send_resolved": c.send_resolved,
        **_http(c.http),
        "api_url": c.api_url,
        "bot_token": SECRET,
        "chat_id": c.chat_id,
        "message": c.message,
        "disable_notifications": c.disable_notifications,
        "parse_mode": c.parse_mode,
    }


def alertmanager_yaml(config: Config) -> str:
    """Alertmanager's YAML for the routes, receivers, inhibit rules and templates."""
    receivers = []
    for r in config.receivers:
        rec: dict[str, Any] = {"name": r.name}
        if r.webhook_configs:
            rec["webhook_configs"] = [_webhook(c) for c in r.webhook_configs]
        if r.slack_configs:
            rec["slack_configs"] = [_slack(c) for c in r.slack_configs]
        if r.email_configs:
            rec["email_configs"] = [_email(c) for c in r.email_configs]
        if r.telegram_configs:
            rec["telegram_configs"] = [_telegram(c) for c in r.telegram_configs]
        if r.pagerduty_configs:
            rec["pagerduty_configs"] = [
                pagerduty_original(c, SECRET, _http(c.http)) for c in r.pagerduty_configs
            ]
        if r.opsgenie_configs:
            rec["opsgenie_configs"] = [
                opsgenie_original(c, SECRET, _http(c.http)) for c in r.opsgenie_configs
            ]
        receivers.append(rec)
    doc: dict[str, Any] = {
        "global": {"resolve_timeout": format_duration(config.global_.resolve_timeout)}
    }
    if config.route is not None:
        doc["route"] = _route(config.route)
    if config.inhibit_rules:
        doc["inhibit_rules"] = [
            {
                "source_matchers": [str(m) for m in i.source_matchers],
                "target_matchers": [str(m) for m in i.target_matchers],
                **({"equal": list(i.equal)} if i.equal else {}),
            }
            for i in config.inhibit_rules
        ]
    doc["receivers"] = receivers
    doc["templates"] = list(config.templates)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
