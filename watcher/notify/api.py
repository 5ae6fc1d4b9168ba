"""Alertmanager API v2 routes, so ``amtool --alertmanager.url=http://watcher:9746`` works.

Shapes follow Alertmanager's ``api/v2/openapi.yaml``: ``gettableAlert``, ``gettableSilence``,
``postableSilence``, ``alertmanagerStatus``. Errors are JSON strings with status 400/404/500,
as go-swagger writes them. Nothing here ever shows a secret: ``/api/v2/status`` shows a
redacted summary of the config.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from aiohttp import web

from watcher import __version__
from watcher.config import Config, HttpConfig, RouteConfig
from watcher.durations import format_duration
from watcher.errors import SilenceError, SilenceNotFoundError
from watcher.matchers import Matcher, parse_matchers
from watcher.notify.data import parse_rfc3339, rfc3339
from watcher.notify.dispatch import AlertStatus, Dispatcher
from watcher.notify.silences import Silence, matches_filter
from watcher.regex import compile_anchored

DISPATCHER_KEY = web.AppKey("notify_dispatcher", Dispatcher)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_REDACTED = "<secret>"


def add_api_routes(app: web.Application, dispatcher: Dispatcher) -> None:
    """Register ``/api/v2/{alerts,silences,silence/{id},status,receivers}``."""
    app[DISPATCHER_KEY] = dispatcher
    app.router.add_get("/api/v2/alerts", _get_alerts)
    app.router.add_get("/api/v2/silences", _get_silences)
    app.router.add_post("/api/v2/silences", _post_silence)
    app.router.add_get("/api/v2/silence/{id}", _get_silence)
    app.router.add_delete("/api/v2/silence/{id}", _delete_silence)
    app.router.add_get("/api/v2/status", _get_status)
    app.router.add_get("/api/v2/receivers", _get_receivers)


def _error(message: str, status: int) -> web.Response:
    return web.json_response(message, status=status)


def _filters(request: web.Request) -> list[Matcher]:
    out: list[Matcher] = []
    for text in request.query.getall("filter", []):
        out.extend(parse_matchers(text))
    return out


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "true").lower()
    if value not in ("true", "false"):
        msg = f'{name} must be "true" or "false", got "{value}"'
        raise ValueError(msg)
    return value == "true"


# -- alerts ---------------------------------------------------------------------------------


def alert_json(status: AlertStatus) -> dict[str, Any]:
    """A ``gettableAlert``."""
    a = status.alert
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(status.ends_at),
        "updatedAt": rfc3339(status.updated_at),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
        "status": {
            "state": status.state,
            "silencedBy": list(status.silenced_by),
            "inhibitedBy": list(status.inhibited_by),
        },
        "receivers": [{"name": r} for r in status.receivers],
    }


async def _get_alerts(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        filters = _filters(request)
        active, silenced, inhibited = (
            _flag(request, n) for n in ("active", "silenced", "inhibited")
        )
        receiver = request.query.get("receiver")
        receiver_re = compile_anchored(receiver) if receiver else None
    except ValueError as exc:
        return _error(f"bad request: {exc}", 400)
    out = []
    for s in dispatcher.alerts():
        if receiver_re is not None and not any(receiver_re.fullmatch(r) for r in s.receivers):
            continue
        if not matches_filter(filters, s.alert.labels):
            continue
        if (not silenced and s.silenced_by) or (not inhibited and s.inhibited_by):
            continue
        if not active and s.state == "active":
            continue
        out.append(alert_json(s))
    out.sort(key=lambda a: str(a["fingerprint"]))  # Alertmanager sorts by fingerprint
    return web.json_response(out)


# -- silences -------------------------------------------------------------------------------


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    """A ``gettableSilence``."""
    return {
        "id": s.id,
        "status": {"state": s.state(now)},
        "updatedAt": rfc3339(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "startsAt": rfc3339(s.starts_at),
        "endsAt": rfc3339(s.ends_at),
        "matchers": [
            {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
            for m in s.matchers
        ],
    }


def parse_silence(body: object) -> Silence:
    """A ``postableSilence``; raise ``SilenceError`` naming what is wrong."""
    if not isinstance(body, dict):
        msg = "expected a JSON object"
        raise SilenceError(msg)
    raw_matchers = body.get("matchers")
    if not isinstance(raw_matchers, list) or not raw_matchers:
        msg = "matchers: expected a non-empty list"
        raise SilenceError(msg)
    matchers: list[Matcher] = []
    for i, m in enumerate(raw_matchers):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("name"), str)
            or not isinstance(m.get("value"), str)
        ):
            msg = f"matchers[{i}]: needs string name and value"
            raise SilenceError(msg)
        if not _LABEL_NAME.match(m["name"]):
            msg = f'matchers[{i}]: invalid label name "{m["name"]}"'
            raise SilenceError(msg)
        is_regex, is_equal = m.get("isRegex", False), m.get("isEqual", True)
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            msg = f"matchers[{i}]: isRegex and isEqual must be true or false"
            raise SilenceError(msg)
        op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
            (is_regex, is_equal)
        ]
        try:
            matchers.append(Matcher.make(m["name"], op, m["value"]))
        except ValueError as exc:
            msg = f"matchers[{i}]: {exc}"
            raise SilenceError(msg) from None
    try:
        starts = parse_rfc3339(str(body["startsAt"]))
        ends = parse_rfc3339(str(body["endsAt"]))
    except (KeyError, ValueError):
        msg = "startsAt and endsAt must be RFC 3339 timestamps"
        raise SilenceError(msg) from None
    return Silence(
        tuple(matchers),
        starts,
        ends,
        str(body.get("createdBy", "")),
        str(body.get("comment", "")),
        id=str(body.get("id") or ""),
    )


async def _get_silences(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        filters = _filters(request)
    except ValueError as exc:
        return _error(f"bad matcher format: {exc}", 400)
    now = dispatcher.now()
    return web.json_response([silence_json(s, now) for s in dispatcher.silences(filters)])


async def _post_silence(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        silence = parse_silence(await request.json())
        silence_id = dispatcher.put_silence(silence)
    except json.JSONDecodeError:
        return _error("body is not JSON", 400)
    except SilenceNotFoundError as exc:
        return _error(str(exc), 404)
    except SilenceError as exc:
        return _error(f"failed to create silence: {exc}", 400)
    return web.json_response({"silenceID": silence_id})


async def _get_silence(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        silence = dispatcher.get_silence(request.match_info["id"])
    except SilenceNotFoundError as exc:
        return _error(str(exc), 404)
    return web.json_response(silence_json(silence, dispatcher.now()))


async def _delete_silence(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        dispatcher.expire_silence(request.match_info["id"])
    except SilenceNotFoundError as exc:
        return _error(str(exc), 404)
    except SilenceError as exc:
        return _error(str(exc), 500)
    return web.Response(status=200)


# -- status ---------------------------------------------------------------------------------


def _url(url: str) -> str:
    return re.sub(r"://[^/@]*@", f"://{_REDACTED}@", url)


def _http(http: HttpConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if http.bearer_token is not None:
        out["authorization"] = {"type": "Bearer", "credentials": _REDACTED}
    if http.basic_auth is not None:
        out["basic_auth"] = {"username": http.basic_auth[0], "password": _REDACTED}
    return out


def _route(r: RouteConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "receiver": r.receiver,
        "group_by": ["..."] if r.group_by is None else list(r.group_by),
        "group_wait": format_duration(r.group_wait),
        "group_interval": format_duration(r.group_interval),
        "repeat_interval": format_duration(r.repeat_interval),
    }
    if r.matchers:
        out["matchers"] = [str(m) for m in r.matchers]
    if r.continue_:
        out["continue"] = True
    if r.routes:
        out["routes"] = [_route(c) for c in r.routes]
    return out


def redacted_config(config: Config) -> str:
    """The notification part of the config as YAML, every secret shown as ``<secret>``."""
    receivers = []
    for r in config.receivers:
        rec: dict[str, Any] = {"name": r.name}
        if r.slack_configs:
            rec["slack_configs"] = [
                {
                    "api_url": _REDACTED,
                    "channel": c.channel,
                    "send_resolved": c.send_resolved,
                    **({"http_config": _http(c.http)} if _http(c.http) else {}),
                }
                for c in r.slack_configs
            ]
        if r.webhook_configs:
            rec["webhook_configs"] = [
                {
                    "url": _REDACTED,
                    "send_resolved": c.send_resolved,
                    "max_alerts": c.max_alerts,
                    **({"http_config": _http(c.http)} if _http(c.http) else {}),
                }
                for c in r.webhook_configs
            ]
        if r.alertmanager_configs:
            rec["alertmanager_configs"] = [
                {"url": _url(c.url), **({"http_config": _http(c.http)} if _http(c.http) else {})}
                for c in r.alertmanager_configs
            ]
        if r.console_configs:
            rec["console_configs"] = [{"send_resolved": c.send_resolved} for c in r.console_configs]
        receivers.append(rec)
    doc: dict[str, Any] = {
        "global": {
            "evaluation_interval": format_duration(config.global_.evaluation_interval),
            "external_labels": dict(config.global_.external_labels),
        },
        "route": _route(config.route) if config.route is not None else None,
        "receivers": receivers,
        "inhibit_rules": [
            {
                "source_matchers": [str(m) for m in i.source_matchers],
                "target_matchers": [str(m) for m in i.target_matchers],
                "equal": list(i.equal),
            }
            for i in config.inhibit_rules
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


async def _get_status(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    return web.json_response(
        {
            "cluster": {"status": "disabled", "peers": []},
            "versionInfo": {
                "version": __version__,
                "branch": "watcher",
                "revision": "unknown",
                "buildUser": "unknown",
                "buildDate": "unknown",
                "goVersion": "none",
            },
            "config": {"original": redacted_config(dispatcher.config)},
            "uptime": rfc3339(dispatcher.started_at),
        }
    )


async def _get_receivers(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER_KEY]
    return web.json_response([{"name": r.name} for r in dispatcher.config.receivers])
