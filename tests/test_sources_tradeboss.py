"""The TradeBoss balance source: headers, Decimal amounts, per-account faults, 1,000 accounts."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from tests.aiohttp_mock import CallbackResult, aioresponses
from tests.simserver import serve
from tests.source_support import assert_poll_fails
from watcher.clock import FakeClock
from watcher.config.model import Secret, TradebossAccount, TradebossConfig
from watcher.metrics import WatcherMetrics
from watcher.ratelimit import LimiterRegistry
from watcher.simulator import SimState, create_app
from watcher.simulator.state import Balance
from watcher.sources.base import PollResult
from watcher.sources.runner import SourceRunner
from watcher.sources.tradeboss import PATH, TradebossSource, parse_amount
from watcher.store import SeriesStore

URL = f"https://wallet.test{PATH}"
HKD = TradebossAccount(third_server_code="tsc-1", user_name="86000001", currency="HKD")
USD = TradebossAccount(third_server_code="tsc-1", user_name="86000002", currency="USD")


def config(accounts: tuple[TradebossAccount, ...] = (HKD,), **overrides: Any) -> TradebossConfig:
    values: dict[str, Any] = {
        "name": "wallet",
        "type": "tradeboss_balance",
        "base_url": "https://wallet.test",
        "company_id": 1,
        "accounts": accounts,
        "labels": {"team": "ops"},
    }
    values.update(overrides)
    return TradebossConfig(**values)


def source(
    session: aiohttp.ClientSession,
    clock: Any,
    accounts: tuple[TradebossAccount, ...] = (HKD,),
    **overrides: Any,
) -> TradebossSource:
    return TradebossSource(config(accounts, **overrides), session, LimiterRegistry(clock), clock)


def answer(amount: Any = "42.1098", digits: Any = 4, **overrides: Any) -> dict[str, Any]:
    """The documented response, made a success (the docs' example has ok false)."""
    body: dict[str, Any] = {
        "msg": "success",
        "code": "0",
        "bizCode": "0",
        "trace": None,
        "msgParams": None,
        "tm": 55,
        "ok": True,
        "fail": False,
        "data": {
            "amount": amount,
            "currency": "HKD",
            "amount_digits": digits,
            "user_name": "86000001",
        },
    }
    body.update(overrides)
    return body


def echo(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Callable[..., Awaitable[CallbackResult]]:
    """An aioresponses callback answering ``body`` with the request's own trace echoed."""

    async def reply(url: Any, **kwargs: Any) -> CallbackResult:
        return CallbackResult(
            status=status, headers=headers, payload={**body, "trace": kwargs["headers"]["trace"]}
        )

    return reply


def balances(result: PollResult) -> dict[str, float]:
    return {s.labels["user_name"]: s.value for g in result.groups.values() for s in g}


def sent(m: aioresponses) -> list[Any]:
    return [call for calls in m.requests.values() for call in calls]


async def test_documented_response_becomes_the_balance_metric(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """amount "42.1098" is exported with user_name, currency, third_server_code, source, labels."""
    with aioresponses() as m:
        m.post(URL, callback=echo(answer()))
        result = await source(session, clock).poll()
    assert [] == result.errors
    (series,) = result.groups["tsc-1/86000001/HKD"]
    assert "tradeboss_account_balance" == series.name
    assert 42.1098 == series.value
    expected = {
        "user_name": "86000001",
        "currency": "HKD",
        "third_server_code": "tsc-1",
        "source": "wallet",
        "team": "ops",
    }
    assert expected == dict(series.labels)


async def test_request_headers_and_body(session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """Each request: fresh trace, companyId, 13-digit timestamp, config headers, JSON body."""
    with aioresponses() as m:
        m.post(URL, callback=echo(answer()), repeat=True)
        await source(
            session, clock, (HKD, USD), headers={"Authorization": Secret("Bearer t0k")}
        ).poll()
        calls = sent(m)
    bodies = sorted(c.kwargs["data"].decode() for c in calls)
    assert [
        '{"thirdServerCode":"tsc-1","userName":"86000001","currency":"HKD"}',
        '{"thirdServerCode":"tsc-1","userName":"86000002","currency":"USD"}',
    ] == bodies
    headers = [c.kwargs["headers"] for c in calls]
    assert 2 == len({h["trace"] for h in headers})
    assert all(re.fullmatch(r"[0-9a-f]{32}", h["trace"]) for h in headers)
    first = {k: v for k, v in headers[0].items() if k != "trace"}
    assert {
        "companyId": "1",
        "timestamp": "1700000000000",
        "Content-Type": "application/json",
        "Authorization": "Bearer t0k",
        "Accept-Encoding": "gzip, deflate",
    } == first


@pytest.mark.parametrize(
    ("amount", "digits", "expected"),
    [
        ("42.1098", 4, Decimal("42.1098")),
        ("2500.5", 2, Decimal("2500.5")),
        ("18230.0000", 4, Decimal("18230.0000")),
        ("100", 2, Decimal("100")),
        (100, 0, Decimal(100)),
        ("0", 4, Decimal("0")),
        ("-12.5", 1, Decimal("-12.5")),
        ("1E+2", 0, Decimal("1E+2")),
        ("42.10985", 4, Decimal("42.10985")),  # more decimals than announced: kept, not rounded
        (" 7.25 ", None, Decimal("7.25")),
        ("42.1098", "4", Decimal("42.1098")),
        ("12345678901234567.89", 2, Decimal("12345678901234567.89")),
        (
            "12345678901234567890.123456789012345678",
            18,
            Decimal("12345678901234567890.123456789012345678"),
        ),
    ],
)
def test_amount_formats(amount: Any, digits: Any, expected: Decimal) -> None:
    """Amounts parse to the exact value upstream wrote; amount_digits never rounds them."""
    parsed = parse_amount(amount, digits)
    assert (expected, str(expected)) == (parsed, str(parsed))


@pytest.mark.parametrize(
    ("amount", "digits"),
    [
        ("abc", 4),
        (None, 4),
        (True, 4),
        ("NaN", 4),
        ("Infinity", 2),
        ("1.0", -1),
        ("1.0", "x"),
        (1.5, 2),
    ],
)
def test_bad_amounts_are_rejected(amount: Any, digits: Any) -> None:
    """Non-numbers, non-finite numbers, floats (already rounded) and bad digit counts are errors."""
    with pytest.raises((TypeError, ValueError)):
        parse_amount(amount, digits)


FAULTS = [
    ("http_500", {"status": 500, "payload": {"code": "G500"}}, "http"),
    ("timeout", {"exception": TimeoutError()}, "timeout"),
    ("connection", {"exception": aiohttp.ClientConnectionError("refused")}, "connection"),
    ("malformed_json", {"body": "<html>502</html>", "content_type": "text/html"}, "malformed"),
    ("bad_shape", {"payload": answer(data=[1])}, "malformed"),
    ("not_an_object", {"payload": ["0"]}, "malformed"),
    ("no_code", {"payload": {"ok": True, "data": {}}}, "malformed"),
    ("trace_mismatch", {"payload": answer(trace="someone-else")}, "malformed"),
    ("ok_false", {"payload": answer(ok=False)}, "api_error"),
    ("code_not_0", {"payload": answer(code="74", ok=False)}, "api_error"),
    ("code_number_0", {"payload": answer(code=0)}, "api_error"),
    ("bad_amount", {"payload": answer(amount="n/a")}, "invalid_row"),
    ("no_amount", {"payload": answer(data={"currency": "HKD"})}, "invalid_row"),
    ("http_429", {"status": 429, "headers": {"x-ratelimit-reset": "5"}}, "rate_limited"),
    ("too_frequent", {"payload": answer(code="GGATEWAY_CODE_018", ok=False)}, "rate_limited"),
    ("http_401", {"status": 401, "payload": {"code": "G401"}}, "auth"),
]


@pytest.mark.parametrize(("name", "reply", "reason"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_each_fault_fails_the_account_with_its_reason(
    session: aiohttp.ClientSession, clock: FakeClock, name: str, reply: dict[str, Any], reason: str
) -> None:
    """Every failure mode leaves the account without a new series and names its reason."""
    await assert_poll_fails(source(session, clock), URL, reply, reason)


async def test_one_failing_account_does_not_fail_the_others(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """An account answered with ok=false fails alone; the other account's balance is exported."""

    async def reply(url: Any, **kwargs: Any) -> CallbackResult:
        trace = kwargs["headers"]["trace"]
        if json.loads(kwargs["data"])["currency"] == "USD":
            return CallbackResult(payload=answer(code="74", ok=False, trace=trace))
        return CallbackResult(payload=answer(trace=trace))

    with aioresponses() as m:
        m.post(URL, callback=reply, repeat=True)
        result = await source(session, clock, (HKD, USD)).poll()
    assert ["api_error"] == [e.reason for e in result.errors]
    assert {"86000001": 42.1098} == balances(result)


async def test_429_pauses_the_source_until_the_reset(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """HTTP 429 with x-ratelimit-reset 30 pauses requests 30 s, then the account is read."""
    with aioresponses() as m:
        m.post(URL, status=429, headers={"x-ratelimit-reset": "30"})
        m.post(URL, callback=echo(answer()))
        result = await source(session, clock).poll()
    assert [] == result.errors
    assert ["rate_limited"] == [e.reason for e in result.retried]
    assert 30.0 <= clock.monotonic()
    assert {"86000001": 42.1098} == balances(result)


async def test_429_retry_after_epoch_reset_and_shared_pause(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A reset given in epoch ms is honoured; the pause holds back every account of the company."""
    reset = str(int(clock.time() * 1000) + 20_000)
    with aioresponses() as m:
        m.post(URL, status=429, headers={"x-ratelimit-reset": reset})
        m.post(URL, callback=echo(answer()), repeat=True)
        result = await source(session, clock, (HKD, USD), concurrency=2).poll()
    assert [] == result.errors
    assert 20.0 == pytest.approx(clock.monotonic())
    assert 2 == len(result.groups)


async def test_reset_beyond_the_interval_gives_up_this_poll(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A quota reset longer than the poll interval is not waited for inside the poll."""
    with aioresponses() as m:
        m.post(URL, status=429, headers={"Retry-After": "600"}, repeat=True)
        result = await source(session, clock, interval=60.0).poll()
        requests = len(sent(m))
    assert ["rate_limited"] == [e.reason for e in result.errors]
    assert 1 == requests


async def test_dead_upstream_stops_after_a_run_of_failures(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """With upstream down, 500 accounts cost a bounded number of requests, not 500 x retries."""
    accounts = tuple(
        TradebossAccount(third_server_code="t", user_name=str(i), currency="HKD")
        for i in range(500)
    )
    with aioresponses() as m:
        m.post(URL, exception=aiohttp.ClientConnectionError("refused"), repeat=True)
        result = await source(session, clock, accounts, concurrency=4).poll()
        requests = len(sent(m))
    assert requests <= (8 + 4) * 3
    assert {} == result.groups
    assert "accounts not polled" in str(result.errors[-1])
    assert {"connection"} == {e.reason for e in result.errors}


# --- against the simulator (real aiohttp server on 127.0.0.1) -------------------------------


def many(n: int) -> tuple[TradebossAccount, ...]:
    return tuple(
        TradebossAccount(
            third_server_code=f"tsc-{i % 7}",
            user_name=f"{86100000 + i}",
            currency=("HKD", "USD", "EUR")[i % 3],
        )
        for i in range(n)
    )


async def test_1000_accounts_with_bounded_concurrency(session: aiohttp.ClientSession) -> None:
    """1,000 accounts are all read, never more than `concurrency` requests in flight."""
    accounts = many(1000)
    state = SimState(tradeboss_per_minute=0)
    state.balances = {
        (a.third_server_code, a.user_name, a.currency): Balance(f"{i}.25", 2)
        for i, a in enumerate(accounts)
    }
    app = create_app(state)
    flight = {"now": 0, "max": 0}

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        flight["now"] += 1
        flight["max"] = max(flight["max"], flight["now"])
        try:
            await asyncio.sleep(0.002)  # a real upstream takes time: let requests overlap
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            flight["now"] -= 1

    app.middlewares.append(count)
    clock = FakeClock(start=time.time())
    async with serve(state, app) as url:
        result = await source(session, clock, accounts, base_url=url, concurrency=8).poll()
    assert [] == result.errors
    assert 1000 == len(result.groups)
    got = {s.labels["user_name"]: s.value for g in result.groups.values() for s in g}
    assert {a.user_name: i + 0.25 for i, a in enumerate(accounts)} == got
    assert 8 == flight["max"]


async def test_quota_exceeded_leaves_the_rest_stale(session: aiohttp.ClientSession) -> None:
    """Quota 5/min: 5 accounts are read; the rest fail fast as rate_limited, one 429 sent."""
    accounts = many(8)
    state = SimState(tradeboss_per_minute=5)
    state.balances = {
        (a.third_server_code, a.user_name, a.currency): Balance("1.00", 2) for a in accounts
    }
    clock = FakeClock(start=time.time())
    async with serve(state) as url:
        src = source(session, clock, accounts, base_url=url, concurrency=1, interval=30.0)
        result = await src.poll()
    assert 5 == len(result.groups)
    assert ["rate_limited"] * 3 == [e.reason for e in result.errors]
    assert {"ok": 5, "rate_limited": 1} == state.summary()["by_endpoint"]["tradeboss"]


async def test_simulator_faults_map_to_reasons(session: aiohttp.ClientSession) -> None:
    """Simulated trace mismatch, ok=false, code "74", HTML and bad shape hit one account each."""
    state = SimState(tradeboss_per_minute=0)
    for kind in ["trace_mismatch", "not_ok", "api_error", "malformed", "bad_shape"]:
        state.faults.inject("tradeboss", kind)
    state.balances = {
        (a.third_server_code, a.user_name, a.currency): Balance("1", 0) for a in many(7)
    }
    clock = FakeClock(start=time.time())
    async with serve(state) as url:
        result = await source(session, clock, many(7), base_url=url, concurrency=1).poll()
    assert ["malformed", "api_error", "api_error", "malformed", "malformed"] == [
        e.reason for e in result.errors
    ]
    assert 2 == len(result.groups)


async def test_failed_account_keeps_its_series_until_stale(session: aiohttp.ClientSession) -> None:
    """Through the runner: an account that starts failing keeps its last value until stale_after."""
    state = SimState()
    # 25 s behind, then 31 s ahead: both within the simulator's 60 s timestamp tolerance
    clock = FakeClock(start=time.time() - 25)
    store = SeriesStore()
    accounts = (HKD, USD)
    async with serve(state) as url:
        src = source(session, clock, accounts, base_url=url, stale_after=30.0)
        runner = SourceRunner(src, store, WatcherMetrics(CollectorRegistry()), clock)
        assert await runner.poll_once()
        del state.balances[("tsc-1", "86000002", "USD")]
        assert not await runner.poll_once()
        kept = {s.labels["user_name"]: s.value for s in store.series()}
        clock.advance(31)
        await runner.poll_once()
        after = {s.labels["user_name"]: s.value for s in store.series()}
    assert {"86000001": 42.1098, "86000002": 2500.5} == kept
    assert {"86000001": 42.1098} == after
