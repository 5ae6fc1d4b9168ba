"""CoinW's private futures WebSocket (``/perpum``) as upstream behaves, Mega Coupon part.

Login is checked against the simulator's accounts (``passphrase`` is the secret key, as the
C# client CoinW.Net sends it); a wrong key or secret gets CoinW's auth error and the socket
closes. ``sub`` of ``assets_ag`` shares the key's 1 request / 2 s budget with the REST coupon
endpoint (a faster one is refused and logged as ``rate_limited``). ``{"event": "ping"}`` gets
``{"event": "pong"}``. A coupon created or changed through ``POST /_sim/coupons/{id}`` is pushed
to every subscribed connection.

Faults (``POST /_sim/faults`` with ``endpoint: push``): ``login_refused`` refuses the next
``count`` logins; ``drop``, ``stall``, ``garbage`` and ``huge`` act at once on every live
connection: close it, go silent (no pong, no push), send ``count`` bad frames, send one frame
over 2 MiB.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from watcher.simulator.coinw import COUPON_SPACING, STATE, key_id, over_limit
from watcher.simulator.state import SimState

PATH = "/perpum"
LIVE_FAULTS = ("drop", "stall", "garbage", "huge")
#: What ``garbage`` sends, in turn: not JSON, not an object, an unknown type, wrong types.
GARBAGE = (
    "}{ not json",
    "[1, 2, 3]",
    json.dumps({"biz": "futures", "type": "mystery", "data": {}}),
    json.dumps({"biz": "futures", "type": "assets_ag", "data": "not a coupon"}),
)
HUGE_BYTES = 2 * 1024 * 1024 + 1
#: Frames a client may send before the simulator answers them; more close the socket.
MAX_CLIENT_FRAME = 64 * 1024


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    api_key: str = ""
    subscribed: bool = False
    stalled: bool = False


@dataclass
class Hub:
    """The live connections."""

    conns: set[_Conn] = field(default_factory=set)

    async def push(self, coupon: Mapping[str, Any]) -> int:
        """Send ``coupon`` to every subscribed connection; return how many got it."""
        frame = json.dumps({"biz": "futures", "type": "assets_ag", "data": dict(coupon)})
        sent = 0
        for conn in list(self.conns):
            if conn.subscribed and not conn.stalled and not conn.ws.closed:
                await conn.ws.send_str(frame)
                sent += 1
        return sent

    async def strike(self, kind: str, count: int) -> int:
        """Apply a live fault to every connection; return how many it hit."""
        hit = 0
        for conn in list(self.conns):
            if conn.ws.closed:
                continue
            hit += 1
            if kind == "drop":
                await conn.ws.close()
            elif kind == "stall":
                conn.stalled = True
            elif kind == "garbage":
                for i in range(max(1, count)):
                    await conn.ws.send_str(GARBAGE[i % len(GARBAGE)])
            elif kind == "huge":
                await conn.ws.send_str("x" * HUGE_BYTES)
        return hit


HUB: web.AppKey[Hub] = web.AppKey("sim_ws_hub", Hub)


def _answer(channel: str, ok: bool, code: int = 0, msg: str = "") -> str:
    data: dict[str, Any] = {"result": ok}
    if not ok:
        data |= {"errorCode": code, "errorMsg": msg}
    body: dict[str, Any] = {"channel": channel, "data": data}
    if channel == "subscribe":
        body |= {"biz": "futures", "type": "assets_ag"}
    return json.dumps(body)


async def perpum(request: web.Request) -> web.WebSocketResponse:
    """``GET /perpum``: the private futures WebSocket."""
    state, hub = request.app[STATE], request.app[HUB]
    ws = web.WebSocketResponse(max_msg_size=MAX_CLIENT_FRAME)
    await ws.prepare(request)
    conn = _Conn(ws)
    hub.conns.add(conn)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            if conn.stalled:
                continue
            if not await _handle(conn, state, request.remote or "", msg.data):
                await ws.close()
    finally:
        hub.conns.discard(conn)
    return ws


async def _handle(conn: _Conn, state: SimState, ip: str, text: str) -> bool:
    """Answer one client frame; False when the socket must close."""
    try:
        frame = json.loads(text)
    except ValueError:
        return True
    if not isinstance(frame, dict):
        return True
    event, params = frame.get("event"), frame.get("params")
    params = params if isinstance(params, dict) else {}
    if event == "ping":
        await conn.ws.send_str(json.dumps({"event": "pong"}))
        return True
    if event == "login":
        return await _login(conn, state, params)
    if event in ("sub", "unsub"):
        await _subscribe(conn, state, ip, event, params)
    return True


async def _login(conn: _Conn, state: SimState, params: dict[str, Any]) -> bool:
    api_key, secret = str(params.get("api_key", "")), params.get("passphrase")
    kid = key_id(api_key)
    fault = state.faults.take("push")
    refused = fault is not None and fault.kind == "login_refused"
    if refused or not api_key or state.accounts.get(api_key) != secret:
        state.record("push", kid, time.time(), "auth_error")
        await conn.ws.send_str(_answer("login", False, 6000, "auth error"))
        return False
    conn.api_key = api_key
    state.record("push", kid, time.time(), "login")
    await conn.ws.send_str(_answer("login", True))
    return True


async def _subscribe(
    conn: _Conn, state: SimState, ip: str, event: str, params: dict[str, Any]
) -> None:
    kid = key_id(conn.api_key)
    if not conn.api_key:
        state.record("push", kid, time.time(), "auth_error")
        await conn.ws.send_str(_answer("subscribe", False, 6000, "auth error: login first"))
        return
    if params.get("biz") != "futures" or params.get("type") != "assets_ag":
        state.record("push", kid, time.time(), "bad_request")
        await conn.ws.send_str(_answer("subscribe", False, 402, "param required"))
        return
    # The subscription shares the key's budget with the REST coupon endpoint.
    if over_limit(state, "coupon", conn.api_key, ip, COUPON_SPACING):
        state.record("push", kid, time.time(), "rate_limited")
        await conn.ws.send_str(_answer("subscribe", False, 29001, "API access frequently"))
        return
    conn.subscribed = event == "sub"
    state.record("push", kid, time.time(), event)
    await conn.ws.send_str(_answer("subscribe", True))


def add_routes(app: web.Application) -> None:
    """Register the WebSocket and its hub."""
    app[HUB] = Hub()
    app.router.add_get(PATH, perpum)
