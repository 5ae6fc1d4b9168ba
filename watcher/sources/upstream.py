"""HTTP plumbing shared by every source: one request, its failures mapped to SourceError reasons.

Each source builds one ``UpstreamClient`` (timeout, body size limit, the secrets to redact) and
sends every request through it. Messages name the method and path, never headers or secrets:
upstream text in them passes through ``Redactor.clean``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import aiohttp

from watcher.errors import RateLimitedError, SourceError, TransientSourceError
from watcher.retry import MAX_RETRY_AFTER, parse_retry_after
from watcher.sources.body import (
    ACCEPT_ENCODING,
    DEFAULT_BODY_SIZE_LIMIT,
    decode_json,
    read_body,
)
from watcher.sources.redact import Redactor

T = TypeVar("T")
# Bodies larger than this are decoded and parsed in a worker thread, off the event loop.
OFF_LOOP_BYTES = 1024 * 1024
# Request headers whose values are credentials, whichever source sends them.
SENSITIVE_HEADERS = frozenset({"authorization", "api_key", "sign", "x-api-key", "cookie"})


def retry_after_seconds(headers: Mapping[str, str], now_ms: int) -> float | None:
    """``Retry-After`` in seconds, or an ``x-ratelimit-reset`` (seconds, or epoch ms/s) hint;
    at most ``MAX_RETRY_AFTER`` either way (None when neither is readable).

    ``headers`` is case-insensitive (aiohttp's) or has lower-case keys.
    """
    wait = parse_retry_after(headers.get("retry-after"), now_ms / 1000)
    if wait is not None:
        return wait
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None
        if math.isnan(number):
            return None
        if number > 1e12:  # epoch milliseconds
            number = (number - now_ms) / 1000
        elif number > 1e9:  # epoch seconds
            number -= now_ms / 1000
        return min(MAX_RETRY_AFTER, max(0.0, number))
    return None


def json_object(value: Any, what: str, name: str = "") -> dict[str, Any]:
    """``value`` (the body, or its field ``name``) if it is a JSON object; else SourceError."""
    if not isinstance(value, dict):
        expected = f"{name} to be an object" if name else "a JSON object"
        msg = f"{what}: expected {expected}, got {type(value).__name__}"
        raise SourceError("malformed", msg)
    return value


def json_list(value: Any, what: str, name: str) -> list[Any]:
    """``value``, the body's field ``name``, if it is a JSON list; else SourceError."""
    if not isinstance(value, list):
        msg = f"{what}: expected {name} to be a list, got {type(value).__name__}"
        raise SourceError("malformed", msg)
    return value


class UpstreamClient:
    """How one source talks to its upstream; built once per source, so requests carry no setup."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        body_size_limit: int = DEFAULT_BODY_SIZE_LIMIT,
        secrets: Iterable[str] = (),
    ) -> None:
        self._session = session
        self._timeout_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = body_size_limit
        self.redactor = Redactor(secrets)

    def clean(self, text: str) -> str:
        """Upstream ``text`` fit for a log line: secrets redacted, one line."""
        return self.redactor.clean(text)

    async def request_json(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str],
        parse: Callable[[Any], T],
        data: str | bytes | None = None,
        now_ms: int | None = None,
    ) -> T:
        """Send one request, decode its JSON and return ``parse(body)``.

        Any failure is a SourceError with a reason and a one-line message starting with
        ``what`` (``GET /v1/perpum/account/almightyGoldInfo``), secrets redacted; ``parse``
        raising SourceError is treated the same. ``Accept-Encoding`` is sent with ``headers``.
        """
        try:
            # One coroutine, not two: every await of the request resumes each frame above it.
            try:
                async with self._session.request(
                    method,
                    url,
                    # We inflate ourselves (watcher.sources.body), so we say what we can inflate.
                    headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
                    data=data.encode() if isinstance(data, str) else data,
                    timeout=self._timeout,
                    auto_decompress=False,
                ) as resp:
                    status = resp.status
                    if status in (418, 429):
                        _raise_rate_limited(what, status, resp.headers, now_ms)
                    parts = await read_body(resp, self._limit, what)
            except TimeoutError:
                msg = f"{what}: no answer within {self._timeout_seconds:g}s"
                raise TransientSourceError("timeout", msg) from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
                msg = f"{what}: connection failed: {type(exc).__name__}"
                raise TransientSourceError("connection", msg) from None
            except aiohttp.ClientError as exc:
                msg = f"{what}: request failed: {type(exc).__name__}"
                raise TransientSourceError("connection", msg) from None
            if len(parts) > 1 and sum(map(len, parts)) > OFF_LOOP_BYTES:
                return await asyncio.to_thread(_finish, what, status, parts, parse)
            return _finish(what, status, parts, parse)
        except SourceError as exc:
            sent = (v for k, v in headers.items() if k.lower() in SENSITIVE_HEADERS)
            exc.args = (self.redactor.clean(str(exc), sent),)
            raise


def _raise_rate_limited(
    what: str, status: int, headers: Mapping[str, str], now_ms: int | None
) -> None:
    wait = None if now_ms is None else retry_after_seconds(headers, now_ms)
    if status == 418:
        msg = f"{what}: HTTP 418, upstream blocked us for persistent overuse"
    else:
        msg = f"{what}: HTTP 429 too many requests"
    raise RateLimitedError(msg, retry_after=wait)


def _finish(what: str, status: int, parts: list[bytes], parse: Callable[[Any], T]) -> T:
    """Decode the body, map the status to an error or hand the body to ``parse``."""
    body: Any = None
    try:
        body = decode_json(parts)
    except (ValueError, RecursionError):  # bad JSON, 4300+ digit integers, absurd nesting
        if 200 <= status < 300:
            text = _head(parts, 400).decode("utf-8", errors="replace")
            msg = f"{what}: HTTP {status} with a body that is not JSON ({_preview(text)})"
            raise SourceError("malformed", msg) from None
    # The raw body is not needed once decoded: freed here (the caller holds the same list),
    # it is not alive beside the series ``parse`` builds (a 10k-coupon answer is ~4 MB).
    parts.clear()
    if status >= 500 or status == 408:
        msg = f"{what}: HTTP {status}{_api_message(body)}"
        raise TransientSourceError("http", msg)
    if status >= 400:
        msg = f"{what}: HTTP {status}{_api_message(body)}"
        raise SourceError("auth" if status in (401, 403) else "http", msg)
    return parse(body)


def _head(parts: list[bytes], size: int) -> bytes:
    """The first ``size`` bytes of a body in pieces (pieces may be one byte each)."""
    out = bytearray()
    for part in parts:
        out += part[: size - len(out)]
        if len(out) >= size:
            break
    return bytes(out)


def _api_message(body: Any) -> str:
    if isinstance(body, dict):
        code = body.get("code")
        text = body.get("msg") or body.get("message")
        if code is not None or text:
            return f" (code {str(code)[:40]}: {str(text or '')[:200]})"
    return ""


def _preview(text: str) -> str:
    clean = " ".join(text.split())
    return f'"{clean[:80]}..."' if len(clean) > 80 else f'"{clean}"'
