"""CoinW endpoints as upstream behaves: signature check, per-key rate limit, faults.

The signature is verified from the raw request (the query string and body bytes as they
arrived), independently of how the watcher builds them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

from aiohttp import web

from watcher.simulator.faults import Fault
from watcher.simulator.state import SimState

COUPON_PATH = "/v1/perpum/account/almightyGoldInfo"
COUPON_SPACING = 2.0  # 1 request / 2 s per user ID and IP
TIMESTAMP_TOLERANCE_MS = 60_000
STATE: web.AppKey[SimState] = web.AppKey("sim_state", SimState)


def _sign(secret: str, prehash: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    ).decode()


def key_id(api_key: str) -> str:
    """A short non-secret handle for an API key (for the request log)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:8]


async def verify(
    request: web.Request, state: SimState, body: str
) -> tuple[str | None, web.Response | None]:
    """Check ``api_key``/``timestamp``/``sign``; return the key or CoinW's error answer."""
    api_key = request.headers.get("api_key", "")
    timestamp = request.headers.get("timestamp", "")
    signature = request.headers.get("sign", "")
    secret = state.accounts.get(api_key)
    if not api_key or secret is None:
        return None, web.json_response({"code": 6000, "msg": "auth error: unknown api_key"})
    if (
        not timestamp.isdigit()
        or abs(int(timestamp) - int(state.wall() * 1000)) > TIMESTAMP_TOLERANCE_MS
    ):
        return None, web.json_response({"code": 6001, "msg": "invalid timestamp"})
    if request.method == "GET":
        qs = request.query_string
        prehash = f"{timestamp}GET{request.path}" + (f"?{qs}" if qs else "")
    else:
        prehash = f"{timestamp}{request.method}{request.path}{body}"
    if not hmac.compare_digest(_sign(secret, prehash), signature):
        return None, web.json_response({"code": 6001, "msg": "invalid signature"})
    return api_key, None


async def apply_fault(fault: Fault, rate_limit_body: dict[str, Any]) -> web.StreamResponse | None:
    """The response a fault produces (None for ``slow``, which only delays)."""
    kind = fault.kind
    if kind == "http_500":
        return web.json_response({"code": 500, "msg": "internal error"}, status=500)
    if kind == "http_429":
        return web.json_response(rate_limit_body, status=429, headers={"Retry-After": "1"})
    if kind == "hang":
        await asyncio.sleep(3600)
    if kind == "slow":
        await asyncio.sleep(fault.delay or 5.0)
        return None
    if kind == "malformed":
        return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
    if kind == "bad_shape":
        return web.json_response({"code": 0, "data": {"unexpected": True}, "msg": ""})
    if kind == "rate_limit":
        return web.json_response(rate_limit_body)
    if kind == "bad_signature":
        return web.json_response({"code": 6001, "msg": "invalid signature"})
    return None


def over_limit(state: SimState, endpoint: str, api_key: str, ip: str, spacing: float) -> bool:
    """Whether this request comes sooner than ``spacing`` after the previous one (and log it)."""
    now = state.monotonic()
    key = (endpoint, api_key, ip)
    last = state.last_request.get(key)
    state.last_request[key] = now
    return last is not None and now - last < spacing


async def coupons(request: web.Request) -> web.StreamResponse:
    """``GET /v1/perpum/account/almightyGoldInfo?type=N``."""
    state = request.app[STATE]
    api_key, error = await verify(request, state, "")
    kid = key_id(request.headers.get("api_key", ""))
    if error is not None or api_key is None:
        state.record("coupon", kid, time.time(), "auth_error")
        return error or web.json_response({"code": 6000, "msg": "auth error"})
    if over_limit(state, "coupon", api_key, request.remote or "", COUPON_SPACING):
        state.record("coupon", kid, time.time(), "rate_limited")
        return web.json_response({"code": 29001, "msg": "API access frequently"})
    fault = state.faults.take("coupon")
    if fault is not None:
        state.record("coupon", kid, time.time(), f"fault:{fault.kind}")
        answer = await apply_fault(fault, {"code": 29001, "msg": "API access frequently"})
        if answer is not None:
            return answer
    raw_type = request.query.get("type")
    if raw_type is None:
        state.record("coupon", kid, time.time(), "bad_request")
        return web.json_response({"code": 402, "msg": "param required: type"})
    if raw_type not in {"0", "1", "2", "3", "4"}:
        state.record("coupon", kid, time.time(), "bad_request")
        return web.json_response({"code": 904, "msg": "invalid type"}, status=400)
    wanted = int(raw_type)
    start, end = request.query.get("startTime"), request.query.get("endTime")
    rows = [c for c in state.coupons.values() if c["type"] == wanted]
    if start and start.isdigit():
        rows = [c for c in rows if c["startTime"] >= int(start)]
    if end and end.isdigit():
        rows = [c for c in rows if c["endTime"] <= int(end)]
    state.record("coupon", kid, time.time(), "ok")
    return web.Response(
        text=json.dumps({"code": 0, "data": rows, "msg": ""}), content_type="application/json"
    )


def add_routes(app: web.Application) -> None:
    """Register the CoinW futures endpoints."""
    app.router.add_get(COUPON_PATH, coupons)
