"""The frames of CoinW's private futures WebSocket: what the watcher sends, what it accepts.

Shapes (docs/upstream-apis.md, "CoinW private futures WebSocket"): the answers are routed the
way the maintained C# client CoinW.Net routes them: ``event: pong``; ``channel: login`` with
``data.result``; ``channel: subscribe|unsubscribe`` with ``result``; anything else by ``type``,
of which only ``assets_ag`` (Mega Coupon) is ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from watcher.errors import PushFrameError

SUBSCRIBE = json.dumps({"event": "sub", "params": {"biz": "futures", "type": "assets_ag"}})
PING = json.dumps({"event": "ping"})
#: Coupons one push may carry; more are a bad frame (every input is bounded).
MAX_COUPONS = 1000


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame understood: ``kind`` is pong, login, subscribe or coupon."""

    kind: str
    ok: bool = True
    #: the error the server gave (login or subscribe refused), never the frame itself
    error: str = ""
    coupons: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def login_frame(template: str, api_key: str, secret_key: str, passphrase: str) -> str:
    """The login frame: ``template`` with every placeholder value replaced (never logged)."""
    values = {"<api_key>": api_key, "<secret_key>": secret_key, "<passphrase>": passphrase}

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str):
            return values.get(node, node)
        return node

    return json.dumps(fill(json.loads(template)))


def parse_frame(text: str) -> Frame:
    """Classify one text frame; raise ``PushFrameError`` (kinds: not_json, bad_shape, unknown_type)."""
    if text.strip().lower() == "pong":  # some CoinW gateways answer the bare word
        return Frame("pong")
    try:
        body = json.loads(text)
    except ValueError:
        raise PushFrameError("not_json", "frame is not JSON") from None
    if not isinstance(body, dict):
        raise PushFrameError(
            "bad_shape", f"frame is a JSON {type(body).__name__}, expected an object"
        )
    if body.get("event") == "pong" or body.get("channel") == "pong" or body.get("type") == "pong":
        return Frame("pong")
    channel = body.get("channel")
    if channel == "login":
        return _answer("login", body)
    if channel in ("subscribe", "unsubscribe", "sub", "unsub"):
        return _answer("subscribe", body)
    kind = body.get("type")
    if kind != "assets_ag":
        shown = kind if isinstance(kind, str) else type(kind).__name__
        raise PushFrameError("unknown_type", f"unknown frame type {shown[:40]!r}")
    data = body.get("data")
    rows: list[Any] = data if isinstance(data, list) else [data]
    if len(rows) > MAX_COUPONS:
        raise PushFrameError(
            "bad_shape", f"push carries {len(rows)} coupons, at most {MAX_COUPONS}"
        )
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise PushFrameError("bad_shape", "assets_ag push without coupon objects in data")
    return Frame("coupon", coupons=tuple(rows))


def _answer(kind: str, body: dict[str, Any]) -> Frame:
    """A login or subscribe answer: success is ``result: true`` (in ``data`` or at the top)."""
    data = body.get("data")
    inner = data if isinstance(data, dict) else {}
    result = inner.get("result", body.get("result", body.get("success")))
    if result is True:
        return Frame(kind)
    code = inner.get("errorCode", body.get("code"))
    text = inner.get("errorMsg", body.get("msg"))
    error = " ".join(str(x)[:80] for x in (code, text) if x is not None) or "refused"
    return Frame(kind, ok=False, error=error)
