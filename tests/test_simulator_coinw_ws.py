"""The simulator's CoinW WebSocket as a raw client sees it: login checks, the shared budget,
pushes and faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.simserver import serve
from watcher.clock import FakeClock
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, SimState, default_coupons

LOGIN = {"event": "login", "params": {"api_key": DEMO_API_KEY, "passphrase": DEMO_SECRET_KEY}}
SUB = {"event": "sub", "params": {"biz": "futures", "type": "assets_ag"}}


@pytest.fixture
async def sim() -> AsyncIterator[tuple[str, SimState, FakeClock]]:
    clock = FakeClock()
    state = SimState(coupons=default_coupons(), monotonic=clock.monotonic, wall=clock.time)
    async with serve(state) as url:
        yield url, state, clock


async def ask(ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> Any:
    await ws.send_str(json.dumps(frame))
    msg = await ws.receive()
    return json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else msg.type


async def test_login_sub_ping_and_a_push(sim: tuple[str, SimState, FakeClock]) -> None:
    """The right key logs in, subscribes, gets pong and then the coupon created upstream."""
    url, _, _ = sim
    async with aiohttp.ClientSession() as s, s.ws_connect(url + "/perpum") as ws:
        assert {"channel": "login", "data": {"result": True}} == await ask(ws, LOGIN)
        assert {
            "channel": "subscribe",
            "biz": "futures",
            "type": "assets_ag",
            "data": {"result": True},
        } == await ask(ws, SUB)
        assert {"event": "pong"} == await ask(ws, {"event": "ping"})
        async with s.post(url + "/_sim/coupons/5", json={"type": 1, "currentAmount": 3}) as r:
            assert 200 == r.status
        push = json.loads((await ws.receive()).data)
    assert ("futures", "assets_ag", 5, 3) == (
        push["biz"],
        push["type"],
        push["data"]["id"],
        push["data"]["currentAmount"],
    )


@pytest.mark.parametrize(
    "params",
    [
        {"api_key": DEMO_API_KEY, "passphrase": "wrong"},
        {"api_key": "nobody", "passphrase": DEMO_SECRET_KEY},
        {"api_key": DEMO_API_KEY},
    ],
)
async def test_a_wrong_key_or_secret_is_refused_and_closed(
    sim: tuple[str, SimState, FakeClock], params: dict[str, str]
) -> None:
    """CoinW's auth error, then the socket closes; the request log says auth_error."""
    url, state, _ = sim
    async with aiohttp.ClientSession() as s, s.ws_connect(url + "/perpum") as ws:
        answer = await ask(ws, {"event": "login", "params": params})
        assert {"result": False, "errorCode": 6000, "errorMsg": "auth error"} == answer["data"]
        assert aiohttp.WSMsgType.CLOSE == (await ws.receive()).type
    assert {"auth_error": 1} == state.summary()["by_endpoint"]["push"]


async def test_sub_needs_a_login_and_shares_the_rest_budget(
    sim: tuple[str, SimState, FakeClock],
) -> None:
    """Sub before login is refused; two subs within 2 s are a rate-limit violation."""
    url, state, clock = sim
    async with aiohttp.ClientSession() as s, s.ws_connect(url + "/perpum") as ws:
        assert 6000 == (await ask(ws, SUB))["data"]["errorCode"]
        await ask(ws, LOGIN)
        assert (await ask(ws, SUB))["data"]["result"]
        assert 29001 == (await ask(ws, SUB))["data"]["errorCode"]
        clock.advance(2.0)
        assert (await ask(ws, SUB))["data"]["result"]
    assert 1 == state.summary()["rate_limit_violations"]


async def test_live_faults_hit_every_connection(sim: tuple[str, SimState, FakeClock]) -> None:
    """garbage sends count bad frames; drop closes; a bad count is a 400."""
    url, _, _ = sim
    async with aiohttp.ClientSession() as s, s.ws_connect(url + "/perpum") as ws:
        await ask(ws, LOGIN)
        fault = {"endpoint": "push", "kind": "garbage", "count": 2}
        async with s.post(url + "/_sim/faults", json=fault) as r:
            assert {"ok": True, "connections": 1} == await r.json()
        assert ["}{ not json", "[1, 2, 3]"] == [(await ws.receive()).data for _ in range(2)]
        async with s.post(url + "/_sim/faults", json={**fault, "count": "many"}) as r:
            assert 400 == r.status
        async with s.post(url + "/_sim/faults", json={"endpoint": "push", "kind": "drop"}) as r:
            assert 200 == r.status
        assert aiohttp.WSMsgType.CLOSE == (await ws.receive()).type
