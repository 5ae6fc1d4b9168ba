"""CoinW's error answers, shared by the futures (coupon) and partner (affiliate) APIs.

docs/upstream-apis.md: 29001 "API access frequently" (rate limited), 6000/6001/6003 auth, 500 internal;
``msg`` or (for 6003) ``message`` carries the text. A body whose ``code`` is not the API's
success value is an error even with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.errors import RateLimitedError, SourceError, TransientSourceError
from watcher.sources.numbers import code_number

RATE_LIMIT_CODE = 29001
AUTH_CODES = frozenset({6000, 6001, 6003})
INTERNAL_ERROR_CODE = 500


def raise_for_code(body: Mapping[str, Any], what: str, *, success: bool) -> None:
    """Raise the SourceError for ``body``'s ``code`` unless the caller found it a success."""
    if success:
        return
    code = body.get("code")
    text = str(body.get("msg") or body.get("message") or "")[:200]
    number = code_number(code)
    if number == RATE_LIMIT_CODE:
        msg = f"{what}: code {code}: {text or 'API access frequently'}"
        raise RateLimitedError(msg)
    if number in AUTH_CODES:
        msg = f"{what}: code {code}: {text}"
        raise SourceError("auth", msg)
    if code is None:
        msg = f"{what}: response has no code"
        raise SourceError("malformed", msg)
    msg = f"{what}: code {code}: {text}"
    if number == INTERNAL_ERROR_CODE:
        raise TransientSourceError("api_error", msg)
    raise SourceError("api_error", msg)
