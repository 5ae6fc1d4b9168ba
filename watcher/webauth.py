"""Who may do what over HTTP: the web config's basic auth and rate limit, ``server.api``, bounds.

Per request, in exporter-toolkit's order (``web/handler.go``): the rate limit (429), the
configured response headers (on every response, errors included), then basic auth (401 with
``WWW-Authenticate: Basic``; unknown users are checked against a fixed hash so timing does not
tell which names exist; results are cached, bcrypt runs one at a time off the event loop).
Then the watcher's own rules:

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

import asyncio
import base64
import binascii
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import bcrypt
from aiohttp import web

from watcher.config import Secret
from watcher.server.views import GuardView

#: Largest request body accepted (aiohttp's client_max_size is set to the same).
MAX_BODY = 1024 * 1024
#: exporter-toolkit's fixed hash of "fakepassword", checked for unknown users.
_FAKE_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
_CACHE_SIZE = 256
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Authenticator:
    """Checks basic auth credentials against bcrypt hashes, with a small cache of outcomes."""

    def __init__(self) -> None:
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = asyncio.Lock()

    async def user(self, header: str | None, users: Mapping[str, Secret]) -> str | None:
        """The authenticated user name, or None (missing, malformed or wrong credentials)."""
        creds = _basic(header)
        if creds is None:
            return None
        name, password = creds
        known = users.get(name)
        hashed = known.get().encode() if known is not None else _FAKE_HASH
        # The key holds a digest, so the cache never keeps a password in memory.
        key = hashlib.sha256(b"\0".join((name.encode(), hashed, password.encode()))).digest()
        ok = self._cache.get(key)
        if ok is None:
            async with self._lock:
                ok = await asyncio.to_thread(_checkpw, password.encode(), hashed)
            ok = ok and known is not None
            self._cache[key] = ok
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return name if ok and known is not None else None


def _checkpw(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # a hash bcrypt cannot read never authenticates anyone
        return False


def _basic(header: str | None) -> tuple[str, str] | None:
    """Go's ``Request.BasicAuth``: ``Basic base64(user:password)``, case-insensitive scheme."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


class RateLimiter:
    """Go's ``rate.Limiter`` (one token per ``interval``, ``burst`` at most) for the listener."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._now = monotonic
        self._tokens = 0.0
        self._last = monotonic()
        self._settings = (0.0, 0)

    def allow(self, interval: float, burst: int) -> bool:
        """Take a token if one is there; settings that changed (a reload) start a full bucket."""
        if interval <= 0:
            return True
        now = self._now()
        if (interval, burst) != self._settings:
            self._settings, self._tokens, self._last = (interval, burst), float(burst), now
        self._tokens = min(float(burst), self._tokens + (now - self._last) / interval)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


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
