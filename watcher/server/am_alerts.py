"""Alertmanager API v2, alerts side: ``/api/v2/alerts`` (GET, POST), ``/api/v2/alerts/groups``,
``/api/v2/status`` and ``/api/v2/receivers``, so ``amtool``, Grafana and karma work.

Shapes follow Alertmanager's ``api/v2/openapi.yaml`` (``gettableAlert``, ``alertGroup``,
``alertmanagerStatus``). Errors are JSON strings with status 400/404/500, as go-swagger writes
them. Nothing here shows a secret: ``/api/v2/status`` shows the config with ``<secret>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from watcher import __version__
from watcher.matchers import Matcher, parse_matchers
from watcher.notify.amconfig import alertmanager_yaml
from watcher.notify.data import rfc3339, sort_key
from watcher.notify.dispatch import AlertStatus
from watcher.notify.incoming import MAX_POSTED_ALERTS, posted
from watcher.notify.router import build_routes
from watcher.notify.silences import matches_filter
from watcher.regex import Regex, compile_anchored
from watcher.server.views import AlertSource

ALERTS: web.AppKey[AlertSource] = web.AppKey("alert_source")


def add_alert_routes(app: web.Application, source: AlertSource) -> None:
    """Register ``/api/v2/{alerts,alerts/groups,status,receivers}``."""
    app[ALERTS] = source
    app.router.add_get("/api/v2/alerts", _get_alerts)
    app.router.add_post("/api/v2/alerts", _post_alerts)
    app.router.add_get("/api/v2/alerts/groups", _get_groups)
    app.router.add_get("/api/v2/status", _get_status)
    app.router.add_get("/api/v2/receivers", _get_receivers)


def error(message: str, status: int) -> web.Response:
    """An error as go-swagger writes it: a JSON string."""
    return web.json_response(message, status=status)


def query_matchers(request: web.Request) -> list[Matcher]:
    """Every ``filter`` query parameter, parsed as matchers."""
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
    source = request.app[ALERTS]
    try:
        keep, receiver_re = _alert_filter(request)
    except ValueError as exc:
        return error(f"bad request: {exc}", 400)
    out = []
    for s in source.alerts():
        if receiver_re is not None and not any(receiver_re.fullmatch(r) for r in s.receivers):
            continue
        if keep(s):
            out.append(alert_json(s))
    out.sort(key=lambda a: str(a["fingerprint"]))  # Alertmanager sorts by fingerprint
    return web.json_response(out)


def _alert_filter(
    request: web.Request,
) -> tuple[Callable[[AlertStatus], bool], Regex | None]:
    """Alertmanager's ``alertFilter`` (filter matchers and the active/silenced/inhibited flags)
    and the ``receiver`` regex, if any; ValueError names a bad parameter."""
    filters = query_matchers(request)
    active, silenced, inhibited = (_flag(request, n) for n in ("active", "silenced", "inhibited"))
    receiver = request.query.get("receiver")
    receiver_re = compile_anchored(receiver) if receiver else None

    def keep(s: AlertStatus) -> bool:
        if not matches_filter(filters, s.alert.labels):
            return False
        if (not silenced and s.silenced_by) or (not inhibited and s.inhibited_by):
            return False
        return active or s.state != "active"

    return keep, receiver_re


async def _get_groups(request: web.Request) -> web.Response:
    """``GET /api/v2/alerts/groups``: one entry per aggregation group and receiver."""
    source = request.app[ALERTS]
    try:
        keep, receiver_re = _alert_filter(request)
    except ValueError as exc:
        return error(f"bad request: {exc}", 400)
    config = source.config
    root = build_routes(config.route) if config.route is not None else None
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[AlertStatus]] = {}
    for s in source.alerts():
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
    source = request.app[ALERTS]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error("body is not JSON", 400)
    if not isinstance(body, list):
        return error("expected a JSON list of alerts", 400)
    now = source.now()
    timeout = source.config.global_.resolve_timeout
    valid, lifetimes, problems = [], [], []
    for i, raw in enumerate(body[:MAX_POSTED_ALERTS]):
        try:
            alert, lifetime = posted(raw, now, timeout)
        except ValueError as exc:
            problems.append(f"alerts[{i}]: {exc}")
            continue
        valid.append(alert)
        lifetimes.append(lifetime)
    if len(body) > MAX_POSTED_ALERTS:
        problems.append(f"at most {MAX_POSTED_ALERTS} alerts per request")
    if valid:
        await source.send(valid, now, lifetimes)
    if problems:
        return error("; ".join(problems), 400)
    return web.Response(status=200)


async def _get_status(request: web.Request) -> web.Response:
    source = request.app[ALERTS]
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
            "config": {"original": alertmanager_yaml(source.config)},  # secrets as <secret>
            "uptime": rfc3339(source.started_at),
        }
    )


async def _get_receivers(request: web.Request) -> web.Response:
    source = request.app[ALERTS]
    return web.json_response([{"name": r.name} for r in source.config.receivers])
