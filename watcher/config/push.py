"""``sources[].push`` of a ``coinw_mega_coupon`` source: CoinW's private futures WebSocket.

Upstream facts and their confidence: docs/upstream-apis.md. The login frame and the ping period
are not confirmed upstream, so both are configurable; the defaults are what the maintained C#
client CoinW.Net sends (a ``{"event": "ping"}`` every 5 s, a pong expected within 5 s).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from watcher.config.model import (
    PUSH_DEFAULT_LOGIN,
    PUSH_DEFAULT_MAX_FRAME,
    PUSH_DEFAULT_URL,
    CoinwCouponConfig,
    PushConfig,
    SourceConfig,
)
from watcher.config.reader import Reader
from watcher.yamlpos import Path

__all__ = ["DEFAULT_LOGIN", "KEYS", "PushConfig", "check_one_push_per_key", "read_push"]
DEFAULT_URL, DEFAULT_LOGIN, DEFAULT_MAX_FRAME = (
    PUSH_DEFAULT_URL,
    PUSH_DEFAULT_LOGIN,
    PUSH_DEFAULT_MAX_FRAME,
)
KEYS = {
    "enabled",
    "url",
    "ping_interval",
    "pong_timeout",
    "login",
    "passphrase",
    "passphrase_file",
    "max_frame_size",
    "min_backoff",
    "max_backoff",
    "bad_frame_limit",
}
_MAX_LOGIN_DEPTH = 4


def read_push(r: Reader, p: Path, size: Callable[[Path, int], int]) -> PushConfig:
    """Read ``push`` at ``p`` (absent: push off); every problem names its key path."""
    if not r.mapping(p, KEYS):
        return PushConfig()
    url = str(r.string((*p, "url"), DEFAULT_URL))
    if not url.startswith(("ws://", "wss://")):
        r.problem((*p, "url"), f'expected a ws:// or wss:// URL, got "{url[:80]}"')
    ping = r.duration((*p, "ping_interval"), 5.0)
    pong = r.duration((*p, "pong_timeout"), 5.0)
    if pong > ping:
        # A second ping would go out before the first pong is missed.
        r.problem((*p, "pong_timeout"), f"must be at most ping_interval ({ping:g}s)")
    low, high = r.duration((*p, "min_backoff"), 1.0), r.duration((*p, "max_backoff"), 60.0)
    if high < low:
        r.problem((*p, "max_backoff"), f"must be at least min_backoff ({low:g}s)")
    return PushConfig(
        enabled=r.boolean((*p, "enabled"), False),
        url=url,
        ping_interval=ping,
        pong_timeout=pong,
        login=_login(r, (*p, "login")),
        passphrase=r.secret(p, "passphrase", required=False),
        max_frame_size=size((*p, "max_frame_size"), DEFAULT_MAX_FRAME),
        min_backoff=low,
        max_backoff=high,
        bad_frame_limit=r.integer((*p, "bad_frame_limit"), 5, minimum=1, maximum=1000),
    )


def _login(r: Reader, p: Path) -> str:
    raw = r.get(p)
    if raw is None:
        return DEFAULT_LOGIN
    if not isinstance(raw, Mapping):
        r.problem(p, "expected a mapping (the login frame, as YAML)")
        return DEFAULT_LOGIN
    problem = _check_frame(raw, 0)
    if problem is not None:
        r.problem(p, problem)
        return DEFAULT_LOGIN
    text = json.dumps(raw)
    if '"<api_key>"' not in text:
        r.problem(p, 'must hold "<api_key>" as a value (where the API key goes)')
    return text


def _check_frame(value: Any, depth: int) -> str | None:
    if depth > _MAX_LOGIN_DEPTH:
        return f"nests deeper than {_MAX_LOGIN_DEPTH} levels"
    if isinstance(value, Mapping):
        for item in value.values():
            problem = _check_frame(item, depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        return next((p for v in value if (p := _check_frame(v, depth + 1))), None)
    if value is None or isinstance(value, str | int | float | bool):
        return None
    return f"holds a {type(value).__name__}, expected JSON values"


def check_one_push_per_key(r: Reader, sources: Sequence[SourceConfig]) -> None:
    """Refuse push on two sources with one API key: CoinW gets one WebSocket per key, whose
    subscription shares the key's request budget."""
    index = {
        str(raw.get("name")): i
        for i, raw in enumerate(r.seq(("sources",)))
        if isinstance(raw, Mapping)
    }
    first: dict[str, str] = {}
    for source in sources:
        if not isinstance(source, CoinwCouponConfig) or not source.push.enabled:
            continue
        key = source.api_key.get()
        if key in first:
            r.problem(
                ("sources", index.get(source.name, 0), "push", "enabled"),
                f'push is already enabled on source "{first[key]}" with the same api_key'
                " (one WebSocket per API key)",
            )
        else:
            first[key] = source.name
