"""HTTP plumbing shared by every source: one request, its failures mapped to SourceError reasons.

Messages name the method and path, never headers or secrets.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp

from watcher.errors import RateLimitedError, SourceError, TransientSourceError

MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    """A decoded JSON response; floats are ``Decimal`` so money keeps its digits."""

    status: int
    headers: dict[str, str]
    body: Any


def retry_after_seconds(headers: dict[str, str], now_ms: int | None = None) -> float | None:
    """``Retry-After`` in seconds, or an ``x-ratelimit-reset`` (seconds, or epoch ms/s) hint."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None
        if number > 1e12 and now_ms is not None:  # epoch milliseconds
            return max(0.0, (number - now_ms) / 1000)
        if number > 1e9 and now_ms is not None:  # epoch seconds
            return max(0.0, number - now_ms / 1000)
        return max(0.0, number)
    return None


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    headers: dict[str, str],
    data: str | None = None,
    timeout: float,
    now_ms: int | None = None,
) -> Response:
    """Send one request and decode its JSON; raise SourceError with a reason on any failure.

    ``what`` names the request in messages (``GET /v1/perpum/account/almightyGoldInfo``).
    """
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            data=data.encode() if data is not None else None,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            raw = await resp.content.read(MAX_BODY)
            status = resp.status
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
    except TimeoutError:
        msg = f"{what}: no answer within {timeout:g}s"
        raise TransientSourceError("timeout", msg) from None
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
        msg = f"{what}: connection failed: {type(exc).__name__}"
        raise TransientSourceError("connection", msg) from None
    except asyncio.CancelledError:
        raise
    except aiohttp.ClientError as exc:
        msg = f"{what}: request failed: {type(exc).__name__}"
        raise TransientSourceError("connection", msg) from None
    if status == 429:
        msg = f"{what}: HTTP 429 too many requests"
        raise RateLimitedError(msg, retry_after=retry_after_seconds(resp_headers, now_ms))
    body: Any = None
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text, parse_float=Decimal) if text.strip() else None
    except (ValueError, RecursionError):  # bad JSON, 4300+ digit integers, absurd nesting
        body = None
        if 200 <= status < 300:
            msg = f"{what}: HTTP {status} with a body that is not JSON ({_preview(text)})"
            raise SourceError("malformed", msg) from None
    if status >= 500 or status == 408:
        msg = f"{what}: HTTP {status}{_api_message(body)}"
        raise TransientSourceError("http", msg)
    if status == 418:
        msg = f"{what}: HTTP 418, upstream blocked us for persistent overuse"
        raise RateLimitedError(msg, retry_after=retry_after_seconds(resp_headers, now_ms))
    if status >= 400:
        msg = f"{what}: HTTP {status}{_api_message(body)}"
        raise SourceError("auth" if status in (401, 403) else "http", msg)
    return Response(status, resp_headers, body)


def _api_message(body: Any) -> str:
    if isinstance(body, dict):
        code = body.get("code")
        text = body.get("msg") or body.get("message")
        if code is not None or text:
            return f" (code {code}: {str(text or '')[:200]})"
    return ""


def _preview(text: str) -> str:
    clean = " ".join(text.split())
    return f'"{clean[:80]}..."' if len(clean) > 80 else f'"{clean}"'
