"""The request guard: rate limit, response headers, auth, ``server.api`` switches and bounds.

Per request, in exporter-toolkit's order (``web/handler.go``): the rate limit (429), the
configured response headers (on every response, errors included), then basic auth (401 with
``WWW-Authenticate: Basic``; the checks themselves are ``watcher.webauth``'s). Then the
watcher's own rules:

- ``server.api.silences``: ``read-write`` (default), ``read-only`` (creating, updating or
  expiring a silence answers 403) or ``off`` (those routes answer 405, as if absent);
- with basic auth on, every request that changes something (silences, ``POST /-/reload``)
  needs a user listed in ``server.api.writers`` (others 403); reading needs any valid user;
- request bodies are capped at ``MAX_BODY`` (413) and JSON nested past what the parser can
  follow is a 400, never a 500;
- the query API's form POSTs (``READ_POSTS``) are reads, as in Prometheus;
- no cross-site request forgery: a write whose ``Origin`` is another site is refused (403), and
  a write body must be ``application/json`` (415), as Alertmanager's API requires, so an HTML
  form on another site cannot post a silence through an on-call's browser.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from watcher.server.views import GuardView
from watcher.webauth import Authenticator, RateLimiter

__all__ = ["MAX_BODY", "READ_POSTS", "guard", "install_guard"]

#: Largest request body accepted (aiohttp's client_max_size is set to the same).
MAX_BODY = 1024 * 1024
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

AUTH: web.AppKey[Authenticator] = web.AppKey("web_authenticator", Authenticator)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("web_rate_limiter", RateLimiter)


GUARDED: web.AppKey[GuardView] = web.AppKey("guarded_view")


def install_guard(app: web.Application, view: GuardView) -> None:
    """Add the guard middleware and the response headers to ``app``, reading ``view``."""
    app[GUARDED] = view
    app[AUTH] = Authenticator()
    app[LIMITER] = RateLimiter(view.clock.monotonic)
    app.middlewares.append(guard)
    app.on_response_prepare.append(_add_headers)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in request.app[GUARDED].web.config.headers.items():
        response.headers[name] = value


def _silence_write(request: web.Request) -> bool:
    path = request.path
    return (request.method == "POST" and path == "/api/v2/silences") or (
        request.method == "DELETE" and path.startswith("/api/v2/silence/")
    )


def _text(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=headers)


#: Prometheus's query API takes its parameters as a POSTed form too (promtool and Grafana
#: send them so); these change nothing, so they are reads, not writes.
READ_POSTS = frozenset({"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels"})


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limit, authenticate, authorise and bound one request (see the module doc)."""
    view = request.app[GUARDED]
    webcfg = view.web.config
    api = view.config.server.api
    if not request.app[LIMITER].allow(webcfg.rate_limit_interval, webcfg.rate_limit_burst):
        return _text(429, "Too Many Requests")
    user = None
    if webcfg.users:
        user = await request.app[AUTH].user(request.headers.get("Authorization"), webcfg.users)
        if user is None:
            return _text(401, "Unauthorized", **{"WWW-Authenticate": "Basic"})
    if webcfg.client_allowed_sans is not None and not _san_allowed(
        request, webcfg.client_allowed_sans
    ):
        return _text(403, "Forbidden: the client certificate has none of client_allowed_sans")
    if _silence_write(request):
        if api.silences == "off":
            return _text(405, "Method Not Allowed: server.api.silences is off", Allow="GET")
        if api.silences == "read-only":
            return _text(403, "Forbidden: silences are read-only here (server.api.silences)")
    if request.method not in _READ_METHODS and request.path not in READ_POSTS:
        if webcfg.users and user not in api.writers:
            return _text(403, f"Forbidden: user {user!r} is not in server.api.writers")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return _text(403, "Forbidden: cross-origin request")
        problem = await _check_body(request)
        if problem is not None:
            return problem
    return await handler(request)


async def _check_body(request: web.Request) -> web.Response | None:
    """413 past MAX_BODY; 400 for JSON nested too deeply to parse (a RecursionError)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _text(413, f"Request Entity Too Large: the limit is {MAX_BODY} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _text(413, f"Request Entity Too Large: the limit is {MAX_BODY} bytes")
    if body and request.content_type != "application/json":
        return _text(415, "Unsupported Media Type: send application/json")
    if body:
        try:
            json.loads(body)
        except RecursionError:
            return web.json_response("body is nested too deeply", status=400)
        except ValueError:
            pass  # the handler answers malformed JSON in its own words
    return None


def _san_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """exporter-toolkit's VerifyPeerCertificate: some DNS, e-mail, IP or URI SAN is listed."""
    cert = request.transport.get_extra_info("peercert") if request.transport else None
    if not cert:
        return False
    sans = [value for _kind, value in cert.get("subjectAltName", ())]
    return any(value in allowed for value in sans)
