"""CoinW partner endpoint: invited users' daily trading volume, paged, signed, rate limited.

Rows are a pure function of (row count, date window, index), so a page of a 100,000-row window
costs only its own rows. Errors follow the futures API (numeric codes); success is ``"200"``.

Control API: ``POST /_sim/invitees {"rows": N}`` (0..100000), ``POST /_sim/partner/limit
{"per_second": 5}`` (0: unlimited).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from watcher.simulator.coinw import STATE, key_id, verify
from watcher.simulator.control import json_object
from watcher.simulator.faults import Fault
from watcher.simulator.state import SimState

PARTNER_PATH = "/api/v3/patener/openapi/v1/partner/invitation/user/volume/list"
MAX_ROWS = 100_000
MAX_PAGE_SIZE = 1000
DEFAULT_DAYS = 30
FIRST_UID = 10_000_001
RATE_LIMITED = {"code": 29001, "msg": "API access frequently"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _error(code: int, msg: str, status: int = 200) -> web.Response:
    return _answer({"code": code, "msg": msg}, status)


def volume(slot: int, day: date) -> Decimal:
    """The simulated volume of invitee ``slot`` on ``day``: lower slots trade more; some days 0."""
    if (slot + day.toordinal()) % 11 == 0:
        return Decimal(0)
    base = (slot * 7919 + day.toordinal() * 104729) % 1_000_000
    return (Decimal(base) / 10_000 + Decimal(50_000) / (slot + 1)).quantize(Decimal("1e-8"))


def invitee_row(index: int, count: int, start: date, end: date) -> dict[str, Any]:
    """Row ``index`` (time desc, then uid) of a ``count``-row window from ``start`` to ``end``."""
    days = max(1, (end - start).days + 1)
    per_day = max(1, -(-count // days))
    slot = index % per_day
    day = end - timedelta(days=index // per_day)
    return {"uid": FIRST_UID + slot, "volume": f"{volume(slot, day):.8f}", "time": day.isoformat()}


def invitee_page(
    count: int, start: date, end: date, *, page: int, size: int, uid: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """One page of the window and the window's total."""
    if uid is None:
        first = (page - 1) * size
        rows = [invitee_row(i, count, start, end) for i in range(first, min(count, first + size))]
        return rows, count
    matching = [r for i in range(count) if (r := invitee_row(i, count, start, end))["uid"] == uid]
    return matching[(page - 1) * size : page * size], len(matching)


def _over_limit(state: SimState, api_key: str, ip: str) -> bool:
    """Sliding one-second window: more than ``partner_per_second`` requests is too many."""
    if state.partner_per_second <= 0:
        return False
    now = time.monotonic()
    hits = [t for t in state.partner_hits.get((api_key, ip), []) if now - t < 1.0]
    hits.append(now)
    state.partner_hits[(api_key, ip)] = hits
    return len(hits) > state.partner_per_second


def _fault_answer(fault: Fault) -> web.Response | None:
    kind = fault.kind
    answers = {
        "http_500": _error(500, "internal error", 500),
        "http_429": web.Response(
            text=json.dumps(RATE_LIMITED),
            status=429,
            content_type="application/json",
            headers={"Retry-After": "1"},
        ),
        "malformed": web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html"),
        "bad_shape": _answer({"code": "200", "msg": "success", "data": {"list": "none"}}),
        "rate_limit": _answer(RATE_LIMITED),
        "bad_signature": _error(6001, "invalid signature"),
        "api_error": _error(904, "system busy"),
    }
    return answers.get(kind)


def _day(body: dict[str, Any], key: str) -> date | str | None:
    raw = body.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str) or not _DATE.match(raw):
        return f"{key} must be yyyy-MM-dd"
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return f"{key} is not a date"


def _int(body: dict[str, Any], key: str, default: int) -> int | None:
    raw = body.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        return None
    return int(raw)


async def volume_list(request: web.Request) -> web.StreamResponse:
    """``POST /api/v3/patener/openapi/v1/partner/invitation/user/volume/list``."""
    state = request.app[STATE]
    raw = await request.text()
    api_key, error = await verify(request, state, raw)
    kid = key_id(request.headers.get("api_key", ""))

    def record(outcome: str) -> None:
        state.record("partner", kid, time.time(), outcome)

    if error is not None or api_key is None:
        record("auth_error")
        return error or _error(6000, "auth error")
    if _over_limit(state, api_key, request.remote or ""):
        record("rate_limited")
        return _answer(RATE_LIMITED)
    fault = state.faults.take("partner")
    if fault is not None:
        record(f"fault:{fault.kind}")
        if fault.kind == "hang":
            await asyncio.sleep(3600)
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay or 5.0)
        answer = _fault_answer(fault)
        if answer is not None:
            return answer
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        record("bad_request")
        return _error(402, "params is required (send {} at least)")
    today = datetime.now(UTC).date()
    start, end = _day(body, "startTime"), _day(body, "endTime")
    page, size = _int(body, "pageNo", 1), _int(body, "pageSize", 100)
    uid = _int(body, "uid", 0)
    problem = next((p for p in (start, end) if isinstance(p, str)), None)
    if problem is None and (page is None or page < 1 or size is None or size < 1 or uid is None):
        problem = "pageNo, pageSize and uid must be positive integers"
    if problem is not None:
        record("bad_request")
        return _error(402, problem)
    assert page is not None  # checked above, with size and uid
    assert size is not None
    assert uid is not None
    end_day = end if isinstance(end, date) else today
    start_day = start if isinstance(start, date) else end_day - timedelta(days=DEFAULT_DAYS - 1)
    if start_day > end_day:
        record("bad_request")
        return _error(402, "startTime is after endTime")
    rows, total = invitee_page(
        state.invitee_rows,
        start_day,
        end_day,
        page=page,
        size=min(size, MAX_PAGE_SIZE),
        uid=uid or None,
    )
    record("ok")
    return _answer({"code": "200", "msg": "success", "data": {"list": rows, "total": total}})


async def _set_invitees(request: web.Request) -> web.Response:
    body = await json_object(request)
    rows = body.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= MAX_ROWS:
        return web.json_response(
            {"error": f"rows must be an integer from 0 to {MAX_ROWS}"}, status=400
        )
    request.app[STATE].invitee_rows = rows
    return web.json_response({"rows": rows})


async def _set_limit(request: web.Request) -> web.Response:
    body = await json_object(request)
    per_second = body.get("per_second")
    if isinstance(per_second, bool) or not isinstance(per_second, int) or per_second < 0:
        return web.json_response({"error": "per_second must be an integer >= 0"}, status=400)
    request.app[STATE].partner_per_second = per_second
    return web.json_response({"per_second": per_second})


def add_routes(app: web.Application) -> None:
    """Register the partner endpoint and its control routes."""
    app.router.add_post(PARTNER_PATH, volume_list)
    app.router.add_post("/_sim/invitees", _set_invitees)
    app.router.add_post("/_sim/partner/limit", _set_limit)
