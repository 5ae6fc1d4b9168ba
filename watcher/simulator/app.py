"""The simulator as an aiohttp application, plus its control API under ``/_sim/``.

Control API (JSON):
- ``GET /_sim/requests``: request counts per endpoint and outcome, rate-limit violations
- ``POST /_sim/faults`` ``{"endpoint": "coupon", "kind": "http_500", "count": 3, "delay": 0}``
- ``DELETE /_sim/faults``: clear every fault
- ``POST /_sim/coupons/{id}``: change fields of a coupon (e.g. ``{"type": 2}``); creates it if new;
  pushed to every subscribed WebSocket (``/perpum``, see ``coinw_ws``)
- ``DELETE /_sim/coupons/{id}``: remove a coupon
- ``POST /_sim/accounts`` ``{"api_key": ..., "secret_key": ...}``: accept (or change) a key
- ``POST /_sim/invitees`` ``{"rows": N}``, ``POST /_sim/partner/limit``: see ``partner``
- ``GET``/``POST /_sim/balances``, ``POST /_sim/tradeboss/quota``: see ``tradeboss``

Fault endpoints: ``coupon``, ``partner``, ``tradeboss``, ``push`` (the WebSocket: ``drop``,
``stall``, ``garbage``, ``huge`` hit live connections at once, answering ``{"connections": N}``).
"""

from __future__ import annotations

from aiohttp import web

from watcher.simulator import coinw, coinw_ws, partner, tradeboss
from watcher.simulator.control import json_object
from watcher.simulator.faults import FAULT_KINDS
from watcher.simulator.state import SimState, default_coupons


def create_app(state: SimState | None = None) -> web.Application:
    """Build the simulator app around ``state`` (a fresh default scenario when None)."""
    if state is None:
        state = SimState(coupons=default_coupons())
    app = web.Application()
    app[coinw.STATE] = state
    coinw.add_routes(app)
    coinw_ws.add_routes(app)
    partner.add_routes(app)
    tradeboss.add_routes(app)
    app.router.add_get("/_sim/requests", _requests)
    app.router.add_post("/_sim/faults", _inject)
    app.router.add_delete("/_sim/faults", _clear)
    app.router.add_post("/_sim/coupons/{id}", _set_coupon)
    app.router.add_delete("/_sim/coupons/{id}", _delete_coupon)
    app.router.add_post("/_sim/accounts", _set_account)
    return app


async def _requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[coinw.STATE].summary())


async def _inject(request: web.Request) -> web.Response:
    body = await json_object(request)
    endpoint, kind = str(body.get("endpoint", "coupon")), str(body.get("kind"))
    if endpoint == "push" and kind in coinw_ws.LIVE_FAULTS:
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            return web.json_response({"error": "count must be 1 to 1000"}, status=400)
        hit = await request.app[coinw_ws.HUB].strike(kind, count)
        return web.json_response({"ok": True, "connections": hit})
    try:
        request.app[coinw.STATE].faults.inject(
            str(body.get("endpoint", "coupon")),
            str(body.get("kind")),
            int(body.get("count", 1)),
            float(body.get("delay", 0.0)),
        )
    except (TypeError, ValueError) as exc:
        return web.json_response({"error": str(exc), "kinds": list(FAULT_KINDS)}, status=400)
    return web.json_response({"ok": True})


async def _clear(request: web.Request) -> web.Response:
    request.app[coinw.STATE].faults.clear()
    return web.json_response({"ok": True})


async def _set_coupon(request: web.Request) -> web.Response:
    state = request.app[coinw.STATE]
    cid = int(request.match_info["id"])
    body = await json_object(request)
    coupon = state.coupons.get(cid)
    if coupon is None:
        template = next(iter(default_coupons().values()))
        coupon = state.coupons[cid] = {**template, "id": cid}
    coupon.update(body)
    await request.app[coinw_ws.HUB].push(coupon)
    return web.json_response(coupon)


async def _delete_coupon(request: web.Request) -> web.Response:
    request.app[coinw.STATE].coupons.pop(int(request.match_info["id"]), None)
    return web.json_response({"ok": True})


async def _set_account(request: web.Request) -> web.Response:
    body = await json_object(request)
    api_key, secret = body.get("api_key"), body.get("secret_key")
    if not isinstance(api_key, str) or not isinstance(secret, str):
        return web.json_response(
            {"error": "api_key and secret_key are required strings"}, status=400
        )
    request.app[coinw.STATE].accounts[api_key] = secret
    return web.json_response({"ok": True})
