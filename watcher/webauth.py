"""Basic auth and the request rate limit of the web config, as exporter-toolkit checks them.

``Authenticator`` checks basic auth (``web/handler.go``): unknown users are checked against a
fixed hash so timing does not tell which names exist; results are cached, bcrypt runs one at a
time off the event loop. ``RateLimiter`` is Go's ``rate.Limiter`` for the listener. The
middleware that applies them per request, with the watcher's own rules, is
``watcher.server.guard``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping

import bcrypt

from watcher.config import Secret

__all__ = ["Authenticator", "RateLimiter"]

#: exporter-toolkit's fixed hash of "fakepassword", checked for unknown users.
_FAKE_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
_CACHE_SIZE = 256


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
