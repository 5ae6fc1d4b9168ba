"""POST JSON to a receiver's URL without ever letting the URL or a token escape.

aiohttp's exceptions carry the request URL (a Slack webhook URL is a credential), so every
failure becomes a ``NotifyError`` naming only the integration and the kind of failure.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Collection, Mapping
from typing import TypedDict

import aiohttp

from watcher import __version__
from watcher.config import HttpConfig
from watcher.errors import NotifyError
from watcher.retry import parse_retry_after

_USER_AGENT = f"watcher/{__version__}"
#: 4xx answers worth another try: a timeout and rate limiting (Retry-After is honoured).
RETRY_CODES = frozenset({408, 429})
_SAFE_BODY = re.compile(r"^[a-z_]{1,64}$")  # Slack's error codes, e.g. "invalid_payload"


class PostOptions(TypedDict, total=False):
    """``post_json``'s options beyond the URL, body and ``http_config``."""

    method: str
    headers: Mapping[str, str] | None
    retry_codes: Collection[int]


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: object,
    http: HttpConfig,
    *,
    what: str,
    now: float,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    retry_codes: Collection[int] = RETRY_CODES,
) -> None:
    """POST ``body`` as JSON (bytes are sent as they are, already encoded); raise ``NotifyError``
    (with ``Retry-After``) on any failure.

    ``headers`` win over ``http``'s authorization (as Prometheus's HTTP client leaves a
    request's own ``Authorization`` alone); a 4xx answer is permanent unless in
    ``retry_codes``, a 5xx never is.
    """
    all_headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
    if http.bearer_token is not None:
        all_headers["Authorization"] = f"Bearer {http.bearer_token.get()}"
    all_headers.update(headers or {})
    auth = None
    if http.basic_auth is not None and "Authorization" not in (headers or {}):
        user, password = http.basic_auth
        auth = aiohttp.BasicAuth(user, password.get())
    try:
        async with session.request(
            method,
            url,
            data=body if isinstance(body, bytes) else json.dumps(body).encode(),
            headers=all_headers,
            auth=auth,
            # 0 = no timeout of its own: the delivery's deadline bounds it (pipeline.py).
            timeout=aiohttp.ClientTimeout(total=http.timeout or None),
            allow_redirects=False,
        ) as resp:
            text = (await resp.content.read(4096)).decode(errors="replace").strip()
            if 200 <= resp.status < 300:
                return
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), now)
            permanent = 400 <= resp.status < 500 and resp.status not in retry_codes
            detail = f" ({text})" if _SAFE_BODY.match(text) else ""
            msg = f"{what}: HTTP {resp.status}{detail}"
    except TimeoutError:
        msg = f"{what}: timed out after {http.timeout:g}s"
        raise NotifyError(msg) from None
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # str(exc) may hold the URL: name the failure kind only.
        msg = f"{what}: {type(exc).__name__}"
        raise NotifyError(msg) from None
    raise NotifyError(msg, retry_after=retry_after, permanent=permanent)
