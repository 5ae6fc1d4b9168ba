"""Alertmanager API v2, silences side: ``/api/v2/silences`` and ``/api/v2/silence/{id}``.

Shapes follow ``gettableSilence`` and ``postableSilence``; errors are JSON strings as
go-swagger writes them. A silence that cannot be stored (a full disk) is a 500 with one line,
and the silence is not half-kept.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from watcher.errors import SilenceError, SilenceNotFoundError, SilenceStorageError
from watcher.matchers import Matcher
from watcher.names import is_label_name
from watcher.notify.data import parse_rfc3339, rfc3339
from watcher.notify.silences import Silence
from watcher.server.am_alerts import error, query_matchers
from watcher.server.views import SilenceStore

SILENCES: web.AppKey[SilenceStore] = web.AppKey("silence_store")


def add_silence_routes(app: web.Application, store: SilenceStore) -> None:
    """Register ``/api/v2/silences`` and ``/api/v2/silence/{id}``."""
    app[SILENCES] = store
    app.router.add_get("/api/v2/silences", _get_silences)
    app.router.add_post("/api/v2/silences", _post_silence)
    app.router.add_get("/api/v2/silence/{id}", _get_silence)
    app.router.add_delete("/api/v2/silence/{id}", _delete_silence)


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
        if not is_label_name(m["name"]):
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
    store = request.app[SILENCES]
    try:
        filters = query_matchers(request)
    except ValueError as exc:
        return error(f"bad matcher format: {exc}", 400)
    now = store.now()
    return web.json_response([silence_json(s, now) for s in store.silences(filters)])


async def _post_silence(request: web.Request) -> web.Response:
    store = request.app[SILENCES]
    try:
        silence = parse_silence(await request.json())
        silence_id = store.put_silence(silence)
    except json.JSONDecodeError:
        return error("body is not JSON", 400)
    except SilenceNotFoundError as exc:
        return error(str(exc), 404)
    except SilenceStorageError as exc:
        return error(f"failed to create silence: {exc}", 500)
    except SilenceError as exc:
        return error(f"failed to create silence: {exc}", 400)
    return web.json_response({"silenceID": silence_id})


async def _get_silence(request: web.Request) -> web.Response:
    store = request.app[SILENCES]
    try:
        silence = store.get_silence(request.match_info["id"])
    except SilenceNotFoundError as exc:
        return error(str(exc), 404)
    return web.json_response(silence_json(silence, store.now()))


async def _delete_silence(request: web.Request) -> web.Response:
    store = request.app[SILENCES]
    try:
        store.expire_silence(request.match_info["id"])
    except SilenceNotFoundError as exc:
        return error(str(exc), 404)
    except SilenceError as exc:
        return error(str(exc), 500)
    return web.Response(status=200)
