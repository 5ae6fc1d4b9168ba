"""The simulated TradeBoss balance endpoint: headers, trace echo, per-minute quota, balances."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from tests.simserver import serve
from watcher.simulator import SimState
from watcher.simulator.tradeboss import TRADEBOSS_PATH

Sim = tuple[aiohttp.ClientSession, str, SimState]
HKD = {"thirdServerCode": "tsc-1", "userName": "86000001", "currency": "HKD"}


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    state = SimState()
    async with serve(state) as url, aiohttp.ClientSession() as session:
        yield session, url, state


async def call(sim: Sim, body: Any = None, **headers: str) -> tuple[int, CIMultiDict[str], Any]:
    session, url, _ = sim
    sent = {"trace": "t-1", "companyId": "1", "timestamp": str(int(time.time() * 1000))}
    sent.update(headers)
    sent = {k: v for k, v in sent.items() if v != ""}
    async with session.post(
        f"{url}{TRADEBOSS_PATH}", json=HKD if body is None else body, headers=sent
    ) as resp:
        # Header names are case-insensitive (aiohttp 3.14 spells known ones its own way).
        return resp.status, CIMultiDict(resp.headers), await resp.json(content_type=None)


async def test_default_low_hkd_balance(sim: Sim) -> None:
    """The default scenario's HKD account answers 42.1098 with code "0", ok true, trace echoed."""
    status, _, body = await call(sim)
    assert 200 == status
    assert ("0", True, False, "t-1") == (body["code"], body["ok"], body["fail"], body["trace"])
    assert {
        "amount": "42.1098",
        "currency": "HKD",
        "amount_digits": 4,
        "user_name": "86000001",
    } == body["data"]
    assert {"msg", "code", "bizCode", "trace", "msgParams", "tm", "data", "ok", "fail"} == set(body)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"trace": ""}, "G400"),
        ({"companyId": "2"}, "G403"),
        ({"companyId": "x"}, "G403"),
        ({"timestamp": "1700000000000"}, "GGATEWAY_CODE_014"),
        ({"timestamp": "1700000000"}, "GGATEWAY_CODE_014"),
    ],
)
async def test_header_checks(sim: Sim, headers: dict[str, str], code: str) -> None:
    """Missing trace, another companyId, an old or 10-digit timestamp are refused, ok false."""
    _, _, body = await call(sim, **headers)
    assert (code, False) == (body["code"], body["ok"])


async def test_unknown_account_and_bad_body(sim: Sim) -> None:
    """An unknown account is G404; a body without the three fields is G400."""
    _, _, body = await call(sim, {**HKD, "userName": "nobody"})
    assert "G404" == body["code"]
    _, _, body = await call(sim, {"userName": "86000001"})
    assert "G400" == body["code"]


async def test_required_static_header(sim: Sim) -> None:
    """When the simulator requires a bearer header, requests without it get HTTP 401."""
    _, _, state = sim
    state.tradeboss_headers = {"Authorization": "Bearer demo"}
    assert 401 == (await call(sim))[0]
    assert 200 == (await call(sim, Authorization="Bearer demo"))[0]


async def test_per_minute_quota_answers_429_with_reset_headers(sim: Sim) -> None:
    """Over the quota: HTTP 429 with x-ratelimit-limit, x-ratelimit-reset and Retry-After."""
    session, url, _ = sim
    async with session.post(f"{url}/_sim/tradeboss/quota", json={"per_minute": 2}) as resp:
        assert 200 == resp.status
    statuses = [(await call(sim))[0] for _ in range(2)]
    status, headers, body = await call(sim)
    assert [200, 200, 429] == [*statuses, status]
    assert "2" == headers["x-ratelimit-limit"]
    assert 1 <= int(headers["x-ratelimit-reset"]) <= 60
    assert headers["x-ratelimit-reset"] == headers["Retry-After"]
    assert "GGATEWAY_CODE_018" == body["code"]


async def test_balances_change_at_run_time(sim: Sim) -> None:
    """POST /_sim/balances sets, adds and deletes balances; GET lists them."""
    session, url, _ = sim
    change = {
        "balances": [
            {
                "third_server_code": "tsc-1",
                "user_name": "86000001",
                "currency": "HKD",
                "amount": "7.5",
            },
            {
                "third_server_code": "tsc-9",
                "user_name": "1",
                "currency": "EUR",
                "amount": "3.000",
                "amount_digits": 3,
            },
            {
                "third_server_code": "tsc-2",
                "user_name": "86000003",
                "currency": "HKD",
                "delete": True,
            },
        ]
    }
    async with session.post(f"{url}/_sim/balances", json=change) as resp:
        assert 200 == resp.status
    _, _, body = await call(sim)
    assert ("7.5", 1) == (body["data"]["amount"], body["data"]["amount_digits"])
    async with session.get(f"{url}/_sim/balances") as resp:
        listed = (await resp.json())["balances"]
    assert {("86000001", "7.5"), ("86000002", "2500.50"), ("1", "3.000")} == {
        (b["user_name"], b["amount"]) for b in listed
    }
    async with session.post(f"{url}/_sim/balances", json={"user_name": "x"}) as resp:
        assert 400 == resp.status


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("trace_mismatch", ("0", True, "t-1-other")),
        ("not_ok", ("0", False, "t-1")),
        ("api_error", ("74", False, "t-1")),
        ("rate_limit", ("GGATEWAY_CODE_018", False, "t-1")),
    ],
)
async def test_faults(sim: Sim, kind: str, expected: tuple[str, bool, str]) -> None:
    """Each TradeBoss fault shapes the next answer, then the endpoint is healthy again."""
    _, _, state = sim
    state.faults.inject("tradeboss", kind)
    _, _, body = await call(sim)
    assert expected == (body["code"], body["ok"], body["trace"])
    _, _, body = await call(sim)
    assert ("0", True) == (body["code"], body["ok"])
