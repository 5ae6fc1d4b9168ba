"""CoinW request signing: ``base64(HMAC-SHA256(secret, timestamp + METHOD + path + ?query|body))``.

See docs/upstream-apis.md, "Authentication". The exact bytes that are signed are the bytes that
are sent: callers build the query string or body once with this module and send that string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

from watcher.config.model import Secret


def build_query(params: Mapping[str, object]) -> str:
    """Render ``params`` as ``k=v&k=v`` in the given order, without URL-encoding (as CoinW signs)."""
    return "&".join(f"{k}={v}" for k, v in params.items())


def build_body(params: Mapping[str, object], *, sort_keys: bool = False) -> str:
    """Render a JSON body compactly; ``{}`` when empty (the partner API requires a body).

    Keys keep the given order, or are sorted (the ``futures_sorted`` signer variant).
    """
    return json.dumps(dict(params), separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)


def sign(secret: str, prehash: str) -> str:
    """Return the base64 of the raw HMAC-SHA256 digest of ``prehash`` keyed with ``secret``."""
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def prehash(timestamp_ms: int, method: str, path: str, payload: str) -> str:
    """The string CoinW signs: for GET ``payload`` is the query (``?`` added when non-empty),
    for other methods the exact JSON body."""
    if method.upper() == "GET":
        return f"{timestamp_ms}GET{path}" + (f"?{payload}" if payload else "")
    return f"{timestamp_ms}{method.upper()}{path}{payload}"


@dataclass(frozen=True)
class CoinwSigner:
    """Headers for one CoinW request: ``api_key``, ``timestamp`` (ms) and ``sign``."""

    api_key: Secret
    secret_key: Secret

    def headers(self, timestamp_ms: int, method: str, path: str, payload: str) -> dict[str, str]:
        """Signed headers for a request whose query string or body is exactly ``payload``."""
        signature = sign(self.secret_key.get(), prehash(timestamp_ms, method, path, payload))
        return {"api_key": self.api_key.get(), "timestamp": str(timestamp_ms), "sign": signature}
