"""TradeBoss "Query User Account Balance": headers checked, trace echoed, per-minute quota.

Control API: ``GET /_sim/balances``; ``POST /_sim/balances`` with one balance or
``{"balances": [...]}``, each ``{"third_server_code", "user_name", "currency", "amount",
"amount_digits"}`` (``"delete": true`` removes it); ``POST /_sim/tradeboss/quota
{"per_minute": N}`` (0: unlimited).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from aiohttp import web

from watcher.simulator.coinw import STATE
from watcher.simulator.control import json_object
from watcher.simulator.faults import Fault
from watcher.simulator.state import Balance, SimState

TRADEBOSS_PATH = "/api/cats-gateway/get-user-amount"
TIMESTAMP_TOLERANCE_MS = 60_000
QUOTA_WINDOW = 60.0


def _answer(
    trace: str,
    code: str,
    msg: str,
    *,
    data: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    ok = code == "0"
    body = {
        "msg": msg,
        "code": code,
        "bizCode": code,
        "trace": trace,
        "msgParams": None,
        "tm": int(time.time() * 1000),
        "data": data,
        "ok": ok,
        "fail": not ok,
    }
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def _quota(state: SimState, company: str, ip: str) -> float | None:
    """Seconds until the quota window resets when this request is over quota, else None."""
    if state.tradeboss_per_minute <= 0:
        return None
    now = time.monotonic()
    started, count = state.tradeboss_window.get((company, ip), (now, 0))
    if now - started >= QUOTA_WINDOW:
        started, count = now, 0
    count += 1
    state.tradeboss_window[(company, ip)] = (started, count)
    if count > state.tradeboss_per_minute:
        return max(0.0, started + QUOTA_WINDOW - now)
    return None


def _too_many(state: SimState, trace: str, reset_in: float) -> web.Response:
    seconds = str(max(1, math.ceil(reset_in)))
    headers = {
        "x-ratelimit-limit": str(state.tradeboss_per_minute),
        "x-ratelimit-reset": seconds,
        "Retry-After": seconds,
    }
    return _answer(trace, "GGATEWAY_CODE_018", "request too frequent", status=429, headers=headers)


async def _fault_answer(
    fault: Fault, state: SimState, trace: str, data: dict[str, Any]
) -> web.Response | None:
    kind = fault.kind
    if kind == "hang":
        await asyncio.sleep(3600)
    if kind == "slow":
        await asyncio.sleep(fault.delay or 5.0)
        return None
    if kind == "http_500":
        return _answer(trace, "G500", "internal error", status=500)
    if kind == "http_429":
        return _too_many(state, trace, QUOTA_WINDOW)
    if kind == "malformed":
        return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
    if kind == "bad_shape":
        return _answer(trace, "0", "success", data=[data])
    if kind == "rate_limit":
        return _answer(trace, "GGATEWAY_CODE_018", "request too frequent")
    if kind == "bad_signature":
        return _answer(trace, "G401", "unauthorized", status=401)
    if kind == "api_error":
        return _answer(trace, "74", "laboris in qui Excepteur")
    if kind == "trace_mismatch":
        return _answer(f"{trace}-other", "0", "success", data=data)
    if kind == "not_ok":
        body = {
            "msg": "success",
            "code": "0",
            "bizCode": "0",
            "trace": trace,
            "msgParams": None,
            "tm": int(time.time() * 1000),
            "data": data,
            "ok": False,
            "fail": True,
        }
        return web.json_response(body)
    return None


async def user_amount(request: web.Request) -> web.StreamResponse:
    """``POST /api/cats-gateway/get-user-amount``."""
    state = request.app[STATE]
    trace = request.headers.get("trace", "")
    company = request.headers.get("companyId", "")
    stamp = request.headers.get("timestamp", "")

    def record(outcome: str) -> None:
        state.record("tradeboss", company[:16], time.time(), outcome)

    for name, value in state.tradeboss_headers.items():
        if request.headers.get(name) != value:
            record("auth_error")
            return _answer(trace, "G401", "unauthorized", status=401)
    if not trace:
        record("bad_request")
        return _answer(trace, "G400", "header trace is required")
    if not company.isdigit() or int(company) != state.tradeboss_company_id:
        record("auth_error")
        return _answer(trace, "G403", "unknown companyId")
    if (
        len(stamp) != 13
        or not stamp.isdigit()
        or abs(int(stamp) - time.time() * 1000) > TIMESTAMP_TOLERANCE_MS
    ):
        record("bad_request")
        return _answer(trace, "GGATEWAY_CODE_014", "request expired")
    reset_in = _quota(state, company, request.remote or "")
    if reset_in is not None:
        record("rate_limited")
        return _too_many(state, trace, reset_in)
    try:
        body = json.loads(await request.text())
    except ValueError:
        body = None
    keys = ("thirdServerCode", "userName", "currency")
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in keys):
        record("bad_request")
        return _answer(trace, "G400", "thirdServerCode, userName and currency are required")
    account = (body["thirdServerCode"], body["userName"], body["currency"])
    balance = state.balances.get(account)
    data = (
        None
        if balance is None
        else {
            "amount": balance.amount,
            "currency": account[2],
            "amount_digits": balance.amount_digits,
            "user_name": account[1],
        }
    )
    fault = state.faults.take("tradeboss")
    if fault is not None:
        record(f"fault:{fault.kind}")
        answer = await _fault_answer(fault, state, trace, data or {})
        if answer is not None:
            return answer
    if data is None:
        record("not_found")
        return _answer(trace, "G404", "user account does not exist")
    record("ok")
    return _answer(trace, "0", "success", data=data)


async def _get_balances(request: web.Request) -> web.Response:
    rows = [
        {
            "third_server_code": k[0],
            "user_name": k[1],
            "currency": k[2],
            "amount": b.amount,
            "amount_digits": b.amount_digits,
        }
        for k, b in request.app[STATE].balances.items()
    ]
    return web.json_response({"balances": rows})


async def _set_balances(request: web.Request) -> web.Response:
    body = await json_object(request)
    items = body.get("balances", [body])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return web.json_response({"error": "balances must be a list of objects"}, status=400)
    state = request.app[STATE]
    changes: dict[tuple[str, str, str], Balance | None] = {}
    for item in items:
        key = (item.get("third_server_code"), item.get("user_name"), item.get("currency"))
        if not all(isinstance(k, str) and k for k in key):
            return web.json_response(
                {"error": "third_server_code, user_name and currency are required strings"},
                status=400,
            )
        account = (str(key[0]), str(key[1]), str(key[2]))
        if item.get("delete") is True:
            changes[account] = None
            continue
        amount, digits = item.get("amount"), item.get("amount_digits")
        if not isinstance(amount, str | int | float) or isinstance(amount, bool):
            return web.json_response({"error": "amount is required"}, status=400)
        text = str(amount)
        if digits is None:
            digits = len(text.partition(".")[2])
        if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
            return web.json_response({"error": "amount_digits must be an integer"}, status=400)
        changes[account] = Balance(text, digits)
    for account, balance in changes.items():
        if balance is None:
            state.balances.pop(account, None)
        else:
            state.balances[account] = balance
    return web.json_response({"ok": True, "changed": len(changes)})


async def _set_quota(request: web.Request) -> web.Response:
    body = await json_object(request)
    per_minute = body.get("per_minute")
    if isinstance(per_minute, bool) or not isinstance(per_minute, int) or per_minute < 0:
        return web.json_response({"error": "per_minute must be an integer >= 0"}, status=400)
    state = request.app[STATE]
    state.tradeboss_per_minute = per_minute
    state.tradeboss_window.clear()
    return web.json_response({"per_minute": per_minute})


def add_routes(app: web.Application) -> None:
    """Register the TradeBoss endpoint and its control routes."""
    app.router.add_post(TRADEBOSS_PATH, user_amount)
    app.router.add_get("/_sim/balances", _get_balances)
    app.router.add_post("/_sim/balances", _set_balances)
    app.router.add_post("/_sim/tradeboss/quota", _set_quota)
