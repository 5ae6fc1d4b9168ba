"""Alertmanager API v2 routes, so ``amtool --alertmanager.url=http://watcher:9746`` works.

Shapes follow Alertmanager's ``api/v2/openapi.yaml``: ``gettableAlert``, ``gettableSilence``,
``postableSilence``, ``alertmanagerStatus``. Errors are JSON strings with status 400/404/500,
as go-swagger writes them. Nothing here ever shows a secret: ``/api/v2/status`` shows a
redacted summary of the config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from watcher import __version__
from watcher.config import Config
from watcher.errors import SilenceError, SilenceNotFoundError
from watcher.matchers import Matcher, parse_matchers
from watcher.notify.amconfig import alertmanager_yaml
from watcher.notify.data import parse_rfc3339, rfc3339, sort_key
from watcher.notify.dispatch import AlertStatus, Dispatcher
from watcher.notify.incoming import MAX_POSTED_ALERTS, postable_alert
from watcher.notify.router import build_routes
from watcher.notify.silences import Silence, matches_filter
from watcher.regex import compile_anchored

DISPATCHER_KEY = web.AppKey("notify_dispatcher", Dispatcher)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_REDACTED = "<secret>"


def add_api_routes(app: web.Application, dispatcher: Dispatcher) -> None:
    """Register ``/api/v2/{alerts,alerts/groups,silences,silence/{id},status,receivers}``."""
    app[DISPATCHER_KEY] = dispatcher
    app.router.add_get("/api/v2/alerts", _get_alerts)
    app.router.add_post("/api/v2/alerts", _post_alerts)
    app.router.add_get("/api/v2/alerts/groups", _get_groups)
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


def _alert_filter(request: web.Request) -> Callable[[AlertStatus], bool]:
    """Alertmanager's ``alertFilter``: filter matchers and the active/silenced/inhibited flags."""
    filters = _filters(request)
    active, silenced, inhibited = (_flag(request, n) for n in ("active", "silenced", "inhibited"))

    def keep(s: AlertStatus) -> bool:
        if not matches_filter(filters, s.alert.labels):
            return False
        if (not silenced and s.silenced_by) or (not inhibited and s.inhibited_by):
            return False
        return active or s.state != "active"

    return keep


async def _get_groups(request: web.Request) -> web.Response:
    """``GET /api/v2/alerts/groups``: one entry per aggregation group and receiver."""
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        keep = _alert_filter(request)
        receiver = request.query.get("receiver")
        receiver_re = compile_anchored(receiver) if receiver else None
    except ValueError as exc:
        return _error(f"bad request: {exc}", 400)
    config = dispatcher.config
    root = build_routes(config.route) if config.route is not None else None
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[AlertStatus]] = {}
    for s in dispatcher.alerts():
        if root is None or not keep(s):
            continue
        for route in root.match(s.alert.labels):
            name = route.config.receiver
            if receiver_re is not None and not receiver_re.fullmatch(name):
                continue
            labels = tuple(sorted(route.group_labels(s.alert.labels).items()))
            groups.setdefault((name, labels), []).append(s)
    ordered = sorted(groups.items(), key=lambda kv: (_labels_key(kv[0][1]), kv[0][0]))
    return web.json_response(
        [
            {
                "alerts": [alert_json(s) for s in sorted(members, key=lambda s: sort_key(s.alert))],
                "labels": dict(labels),
                "receiver": {"name": name},
            }
            for (name, labels), members in ordered
        ]
    )


def _labels_key(labels: tuple[tuple[str, str], ...]) -> tuple[int, tuple[tuple[str, str], ...]]:
    """``LabelSet.Before`` order for same-size sets: fewer labels first, then pairs in order."""
    return len(labels), labels


async def _post_alerts(request: web.Request) -> web.Response:
    """``POST /api/v2/alerts`` (``postableAlerts``), as Prometheus and ``amtool alert add`` send."""
    dispatcher = request.app[DISPATCHER_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error("body is not JSON", 400)
    if not isinstance(body, list):
        return _error("expected a JSON list of alerts", 400)
    now = dispatcher.now()
    valid, problems = [], []
    for i, raw in enumerate(body[:MAX_POSTED_ALERTS]):
        try:
            valid.append(postable_alert(raw, now))
        except ValueError as exc:
            problems.append(f"alerts[{i}]: {exc}")
    if len(body) > MAX_POSTED_ALERTS:
        problems.append(f"at most {MAX_POSTED_ALERTS} alerts per request")
    if valid:
        await dispatcher.send(valid, now)
    if problems:
        return _error("; ".join(problems), 400)
    return web.Response(status=200)


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


def redacted_config(config: Config) -> str:
    """The notification config as Alertmanager YAML, every secret shown as ``<secret>``."""
    return alertmanager_yaml(config)


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
