"""``sources[].push`` of a ``coinw_mega_coupon`` source: CoinW's private futures WebSocket.

Upstream facts and their confidence: docs/upstream-apis.md. The login frame and the ping period
are not confirmed upstream, so both are configurable; the defaults are what the maintained C#
client CoinW.Net sends (a ``{"event": "ping"}`` every 5 s, a pong expected within 5 s).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from watcher.config.model import (
    CoinwCouponConfig,
    PushConfig,
    SourceConfig,
)
from watcher.validate import Invalid, Schema
from watcher.yamlpos import Located, Problem

__all__ = ["PushConfig", "check_one_push_per_key", "register"]
_MAX_LOGIN_DEPTH = 4


def register(schema: Schema) -> None:
    """Read ``push.login`` as a frame and check the timers against each other."""
    schema.field(PushConfig, "login", _login)
    schema.after(PushConfig, _check)


def _check(push: PushConfig, _raw: Any) -> PushConfig:
    problems: list[Exception] = []
    if push.pong_timeout > push.ping_interval:
        # A second ping would go out before the first pong is missed.
        msg = f"must be at most ping_interval ({push.ping_interval:g}s)"
        problems.append(Invalid(msg, ("pong_timeout",)))
    if push.max_backoff < push.min_backoff:
        msg = f"must be at least min_backoff ({push.min_backoff:g}s)"
        problems.append(Invalid(msg, ("max_backoff",)))
    if problems:
        raise ExceptionGroup("push", problems)
    return push


def _login(raw: Any) -> str:
    """The login frame, given as YAML, as the JSON text sent."""
    if not isinstance(raw, Mapping):
        msg = "expected a mapping (the login frame, as YAML)"
        raise Invalid(msg)
    problem = _check_frame(raw, 0)
    if problem is not None:
        raise Invalid(problem)
    text = json.dumps(raw)
    if '"<api_key>"' not in text:
        msg = 'must hold "<api_key>" as a value (where the API key goes)'
        raise Invalid(msg)
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


def check_one_push_per_key(
    doc: Located, sources: Sequence[tuple[int, SourceConfig]]
) -> list[Problem]:
    """Refuse push on two ``sources`` (each with its index in the file) with one API key:
    CoinW gets one WebSocket per key, whose subscription shares the key's request budget."""
    first: dict[str, str] = {}
    out = []
    for i, source in sources:
        if not isinstance(source, CoinwCouponConfig) or not source.push.enabled:
            continue
        key = source.api_key.get()
        if key in first:
            out.append(
                doc.problem(
                    ("sources", i, "push", "enabled"),
                    f'push is already enabled on source "{first[key]}" with the same api_key'
                    " (one WebSocket per API key)",
                )
            )
        else:
            first[key] = source.name
    return out
