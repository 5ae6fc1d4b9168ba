"""The CoinW invitee volume source: signed body, pagination, Decimal sums, every upstream fault."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.aiohttp_mock import aioresponses
from tests.simserver import serve
from tests.source_support import assert_poll_fails
from watcher.clock import FakeClock, SystemClock
from watcher.config.model import CoinwInviteeConfig, Secret
from watcher.ratelimit import LimiterRegistry
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, SimState
from watcher.simulator.partner import invitee_row
from watcher.sources.base import PollResult
from watcher.sources.coinw_invitee import (
    MAX_PAGES,
    PATH,
    InviteeSource,
    parse_row,
    window_dates,
)

URL = f"https://api.coinw.test{PATH}"


def config(**overrides: Any) -> CoinwInviteeConfig:
    values: dict[str, Any] = {
        "name": "aff",
        "type": "coinw_invitee_volume",
        "base_url": "https://api.coinw.test",
        "api_key": Secret("k"),
        "secret_key": Secret("s3cr3t"),
        "labels": {"team": "growth"},
    }
    values.update(overrides)
    return CoinwInviteeConfig(**values)


def source(session: aiohttp.ClientSession, clock: Any, **overrides: Any) -> InviteeSource:
    return InviteeSource(config(**overrides), session, LimiterRegistry(clock), clock)


def page(rows: list[Any], total: int | None = None) -> dict[str, Any]:
    return {
        "code": "200",
        "msg": "success",
        "data": {"list": rows, "total": len(rows) if total is None else total},
    }


def row(uid: int, volume: Any, day: str = "2023-11-14") -> dict[str, Any]:
    return {"uid": uid, "volume": volume, "time": day}


def values(result: PollResult) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("uid", "")): s.value for g in result.groups.values() for s in g}


def sent(m: aioresponses) -> list[Any]:
    return [call for calls in m.requests.values() for call in calls]


async def test_documented_example_becomes_the_four_metrics(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """The upstream response example exports per-uid, total, active and last-day volume."""
    with aioresponses() as m:
        m.post(URL, payload=page([row(123126704, "629.44650000", "2024-04-01")]))
        result = await source(session, clock).poll()
    assert [] == result.errors
    assert {
        ("coinw_affiliate_trading_volume", ""): 629.4465,
        ("coinw_affiliate_active_invitees", ""): 1.0,
        ("coinw_affiliate_trading_volume_last_day", ""): 629.4465,
        ("coinw_invitee_trading_volume", "123126704"): 629.4465,
    } == values(result)
    labels = {s.name: dict(s.labels) for s in result.groups["window"]}
    assert {"source": "aff", "team": "growth", "uid": "123126704"} == labels[
        "coinw_invitee_trading_volume"
    ]
    assert {"source": "aff", "team": "growth"} == labels["coinw_affiliate_trading_volume"]


async def test_body_is_signed_exactly_as_sent(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """The JSON body carries the UTC window and paging; sign is HMAC over ts+POST+path+body."""
    with aioresponses() as m:
        m.post(URL, payload=page([]))
        await source(session, clock).poll()
        (call,) = sent(m)
    body = call.kwargs["data"].decode()
    assert '{"startTime":"2023-10-16","endTime":"2023-11-14","pageNo":1,"pageSize":1000}' == body
    headers = call.kwargs["headers"]
    # Computed independently of watcher with:
    # printf '%s' "$prehash" | openssl dgst -sha256 -hmac s3cr3t -binary | base64
    assert {
        "api_key": "k",
        "timestamp": "1700000000000",
        "Content-Type": "application/json",
        "sign": "Tbd9Z62dPyO8HtXkyk80+RN4NF3JFnB33R4A+M/6sKI=",
        "Accept-Encoding": "gzip, deflate",
    } == headers


async def test_sorted_signer_sorts_the_body_keys(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """signer: futures_sorted sends (and signs) the body with its keys in sorted order."""
    with aioresponses() as m:
        m.post(URL, payload=page([]))
        await source(session, clock, signer="futures_sorted").poll()
        (call,) = sent(m)
    assert (
        '{"endTime":"2023-11-14","pageNo":1,"pageSize":1000,"startTime":"2023-10-16"}'
        == call.kwargs["data"].decode()
    )
    assert "qQeFWmY+zKEh3i5dprI7+8t4AUULpWi712WjmD+vlg8=" == call.kwargs["headers"]["sign"]


def test_window_covers_lookback_days_of_utc_dates() -> None:
    """lookback_days 1 is today only (UTC); 7 is today and the six days before."""
    assert ("2023-11-14", "2023-11-14") == window_dates(1_700_000_000, 1)
    assert ("2023-11-08", "2023-11-14") == window_dates(1_700_000_000, 7)


async def test_pages_until_total_read_at_most_five_per_second(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """2,500 rows at pageSize 1000 are three requests, pageNo 1..3, spaced at least 0.2 s."""
    pages = [
        [row(i, "1") for i in range(start, min(start + 1000, 2500))] for start in (0, 1000, 2000)
    ]
    with aioresponses() as m:
        for rows in pages:
            m.post(URL, payload=page(rows, 2500))
        result = await source(session, clock).poll()
        numbers = [json.loads(c.kwargs["data"])["pageNo"] for c in sent(m)]
    assert [1, 2, 3] == numbers
    assert clock.monotonic() >= 0.4
    assert 2500.0 == values(result)[("coinw_affiliate_trading_volume", "")]
    assert 2500.0 == values(result)[("coinw_affiliate_active_invitees", "")]


async def test_total_changing_mid_read_does_not_double_count(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A row inserted while paging shifts a row onto the next page: it is counted once."""
    with aioresponses() as m:
        m.post(URL, payload=page([row(1, "10"), row(2, "20")], 4))
        # one new row appeared at the top: row 2 shows again, total grew to 5
        m.post(URL, payload=page([row(2, "20"), row(3, "30")], 5))
        m.post(URL, payload=page([row(4, "40")], 5))
        result = await source(session, clock, page_size=2).poll()
    assert 3 == len(sent(m))
    assert 100.0 == values(result)[("coinw_affiliate_trading_volume", "")]
    assert 4.0 == values(result)[("coinw_affiliate_active_invitees", "")]


async def test_upstream_repeating_pages_is_bounded(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """An upstream that ignores pageNo (same full page forever) stops after a few extra pages."""
    with aioresponses() as m:
        m.post(URL, payload=page([row(1, "10"), row(2, "20")], 3), repeat=True)
        result = await source(session, clock, page_size=2).poll()
    assert len(sent(m)) <= 2 + 3
    assert 30.0 == values(result)[("coinw_affiliate_trading_volume", "")]


async def test_sums_are_exact_decimals(session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """Ten days of "0.1" sum to exactly 1 (float addition would give 0.9999999999999999)."""
    rows = [row(7, "0.1", f"2023-11-{d:02d}") for d in range(1, 11)]
    with aioresponses() as m:
        m.post(URL, payload=page(rows))
        result = await source(session, clock).poll()
    assert 1.0 == values(result)[("coinw_invitee_trading_volume", "7")]
    assert 0.1 == values(result)[("coinw_affiliate_trading_volume_last_day", "")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("629.44650000", Decimal("629.4465")),
        ("0", Decimal(0)),
        ("12", Decimal(12)),
        (5, Decimal(5)),
        (Decimal("0.1"), Decimal("0.1")),
        ("1E+3", Decimal(1000)),
        (" 7.5 ", Decimal("7.5")),
    ],
)
def test_volume_formats(raw: Any, expected: Decimal) -> None:
    """Volumes as decimal strings (upstream's form), integers and JSON decimals parse exactly."""
    assert ("1", date(2024, 4, 1), expected) == parse_row(
        {"uid": 1, "volume": raw, "time": "2024-04-01"}
    )


async def test_bad_rows_are_counted_and_skipped(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Non-numeric volumes, bad dates and missing uids are skipped; the rest of the page counts."""
    rows: list[Any] = [
        row(1, "5"),
        row(2, "abc"),
        row(3, "NaN"),
        row(4, "-1"),
        row(5, "1", "2024-13-01"),
        row(6, "1", "01/04/2024"),
        {"volume": "1", "time": "2024-04-01"},
        "junk",
        row(9, True),
        row(10, "2.5"),
    ]
    with aioresponses() as m:
        m.post(URL, payload=page(rows))
        result = await source(session, clock).poll()
    assert 8 == result.skipped_rows
    assert [] == result.errors
    assert 7.5 == values(result)[("coinw_affiliate_trading_volume", "")]


async def test_top_invitees_bounds_cardinality(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Only the top N invitees by volume get a series; totals still include everyone."""
    rows = [row(uid, str(uid * 10)) for uid in range(1, 301)]
    with aioresponses() as m:
        m.post(URL, payload=page(rows))
        result = await source(session, clock, top_invitees=2).poll()
    per_uid = {k[1]: v for k, v in values(result).items() if k[0] == "coinw_invitee_trading_volume"}
    assert {"300": 3000.0, "299": 2990.0} == per_uid
    assert 300.0 == values(result)[("coinw_affiliate_active_invitees", "")]
    assert 451500.0 == values(result)[("coinw_affiliate_trading_volume", "")]


async def test_last_day_is_the_latest_day_present(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Last-day volume sums every invitee on the newest date, whatever the row order."""
    rows = [row(1, "3", "2023-11-12"), row(2, "4", "2023-11-13"), row(1, "5", "2023-11-13")]
    with aioresponses() as m:
        m.post(URL, payload=page(rows))
        result = await source(session, clock).poll()
    assert 9.0 == values(result)[("coinw_affiliate_trading_volume_last_day", "")]


async def test_empty_window_reports_zero(session: aiohttp.ClientSession, clock: FakeClock) -> None:
    """No invitee traded: totals are 0 (so a "volume at zero" rule can fire), no per-uid series."""
    with aioresponses() as m:
        m.post(URL, payload={"code": "200", "msg": "success", "data": {"list": [], "total": 0}})
        result = await source(session, clock).poll()
    assert {
        ("coinw_affiliate_trading_volume", ""): 0.0,
        ("coinw_affiliate_active_invitees", ""): 0.0,
        ("coinw_affiliate_trading_volume_last_day", ""): 0.0,
    } == values(result)


FAULTS = [
    ("http_500", {"status": 500, "payload": {"code": 500, "msg": "internal"}}, "http"),
    ("timeout", {"exception": TimeoutError()}, "timeout"),
    ("connection", {"exception": aiohttp.ClientConnectionError("refused")}, "connection"),
    ("malformed_json", {"body": "<html>502</html>", "content_type": "text/html"}, "malformed"),
    ("bad_shape_data", {"payload": {"code": "200", "data": [1, 2]}}, "malformed"),
    (
        "bad_shape_list",
        {"payload": {"code": "200", "data": {"list": "x", "total": 1}}},
        "malformed",
    ),
    ("bad_total", {"payload": {"code": "200", "data": {"list": [], "total": "many"}}}, "malformed"),
    ("not_an_object", {"payload": [1]}, "malformed"),
    ("no_code", {"payload": {"data": {"list": []}}}, "malformed"),
    (
        "rate_limit_29001",
        {"payload": {"code": 29001, "msg": "API access frequently"}},
        "rate_limited",
    ),
    ("http_429", {"status": 429, "payload": {"code": 29001}}, "rate_limited"),
    ("bad_signature", {"payload": {"code": 6001, "msg": "invalid signature"}}, "auth"),
    ("permission", {"payload": {"code": 6003, "message": "require more permission"}}, "auth"),
    ("http_401", {"status": 401, "payload": {}}, "auth"),
    ("api_error", {"payload": {"code": 904, "msg": "busy"}}, "api_error"),
    (
        "futures_success_code",
        {"payload": {"code": 0, "data": {"list": [], "total": 0}}},
        "api_error",
    ),
]


@pytest.mark.parametrize(("name", "reply", "reason"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_each_fault_is_an_error_with_its_reason(
    session: aiohttp.ClientSession, clock: FakeClock, name: str, reply: dict[str, Any], reason: str
) -> None:
    """Every failure mode fails the poll with its reason and exports nothing new."""
    await assert_poll_fails(source(session, clock), URL, reply, reason)


async def test_transient_failure_is_retried_within_the_poll(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """An HTTP 500 followed by success is a good poll with one counted retry."""
    with aioresponses() as m:
        m.post(URL, status=500, payload={"code": 500})
        m.post(URL, payload=page([row(1, "2")]))
        result = await source(session, clock).poll()
    assert [] == result.errors
    assert ["http"] == [e.reason for e in result.retried]
    assert 2.0 == values(result)[("coinw_affiliate_trading_volume", "")]


async def test_failed_page_mid_read_exports_nothing(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Page 2 failing keeps the previous series: no half-window sums."""
    with aioresponses() as m:
        m.post(URL, payload=page([row(1, "1"), row(2, "1")], 4))
        m.post(URL, payload={"code": 904, "msg": "busy"})
        result = await source(session, clock, page_size=2).poll()
    assert ["api_error"] == [e.reason for e in result.errors]
    assert {} == result.groups


async def test_rate_limit_backs_off_the_shared_limiter(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """After 29001 the key's limiter grants nothing for 10 s, then longer on repeats."""
    limiters = LimiterRegistry(clock)
    src = InviteeSource(config(), session, limiters, clock)
    with aioresponses() as m:
        m.post(URL, payload={"code": 29001, "msg": "API access frequently"}, repeat=True)
        await src.poll()
        first = limiters.get("k", PATH, 0.21, upstream=config().base_url).next_slot_in
        await src.poll()
        second = limiters.get("k", PATH, 0.21, upstream=config().base_url).next_slot_in
    assert 10.0 == first
    assert 30.0 == second


# --- against the simulator (real aiohttp server on 127.0.0.1) -------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[tuple[str, SimState]]:
    state = SimState()
    async with serve(state) as url:
        yield url, state


def sim_source(
    session: aiohttp.ClientSession, clock: Any, url: str, **overrides: Any
) -> InviteeSource:
    cfg = config(
        base_url=url, api_key=Secret(DEMO_API_KEY), secret_key=Secret(DEMO_SECRET_KEY), **overrides
    )
    return InviteeSource(cfg, session, LimiterRegistry(clock), clock)


async def test_100k_row_window_in_100_pages(
    session: aiohttp.ClientSession, sim: tuple[str, SimState]
) -> None:
    """A 100,000-row window is read in 100 signed pages and every row is summed once."""
    url, state = sim
    state.invitee_rows = 100_000
    state.partner_per_second = 0  # the fake clock paces requests instantly
    clock = FakeClock(start=time.time())
    result = await sim_source(session, clock, url, top_invitees=5).poll()
    assert [] == result.errors
    assert {"ok": 100} == state.summary()["by_endpoint"]["partner"]
    start, end = (date.fromisoformat(d) for d in window_dates(clock.time(), 30))
    expected = sum(
        (Decimal(invitee_row(i, 100_000, start, end)["volume"]) for i in range(100_000)), Decimal(0)
    )
    assert float(expected) == values(result)[("coinw_affiliate_trading_volume", "")]
    assert 5 == sum(1 for k in values(result) if k[0] == "coinw_invitee_trading_volume")


async def test_real_pacing_stays_within_the_simulated_5_per_second(
    session: aiohttp.ClientSession, sim: tuple[str, SimState]
) -> None:
    """Six pages on the wall clock are never refused by the simulator's 5 requests/s limit."""
    url, state = sim
    state.invitee_rows = 6000
    result = await sim_source(session, SystemClock(), url).poll()
    assert [] == result.errors
    assert {"ok": 6} == state.summary()["by_endpoint"]["partner"]


async def test_sorted_signer_is_accepted_by_the_simulator(
    session: aiohttp.ClientSession, sim: tuple[str, SimState]
) -> None:
    """The futures_sorted variant signs the bytes it sends, so signature checks pass."""
    url, state = sim
    result = await sim_source(
        session, FakeClock(start=time.time()), url, signer="futures_sorted"
    ).poll()
    assert [] == result.errors
    assert {"ok": 1} == state.summary()["by_endpoint"]["partner"]


async def test_wrong_secret_is_an_auth_error(
    session: aiohttp.ClientSession, sim: tuple[str, SimState]
) -> None:
    """The simulator rejects a signature made with another secret; the poll fails with auth."""
    url, _ = sim
    cfg = config(base_url=url, api_key=Secret(DEMO_API_KEY), secret_key=Secret("wrong"))
    clock = FakeClock(start=time.time())
    result = await InviteeSource(cfg, session, LimiterRegistry(clock), clock).poll()
    assert ["auth"] == [e.reason for e in result.errors]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("http_500", "http"),
        ("malformed", "malformed"),
        ("bad_shape", "malformed"),
        ("rate_limit", "rate_limited"),
        ("http_429", "rate_limited"),
        ("bad_signature", "auth"),
        ("api_error", "api_error"),
    ],
)
async def test_simulator_faults(
    session: aiohttp.ClientSession, sim: tuple[str, SimState], kind: str, reason: str
) -> None:
    """Each simulated partner fault reaches the source as its error reason."""
    url, state = sim
    state.faults.inject("partner", kind, count=-1)
    clock = FakeClock(start=time.time())
    result = await sim_source(session, clock, url).poll()
    assert [reason] == [e.reason for e in result.errors]


async def test_simulator_hang_is_a_timeout(
    session: aiohttp.ClientSession, sim: tuple[str, SimState]
) -> None:
    """A hanging partner endpoint costs the source its timeout per attempt, then fails."""
    url, state = sim
    state.faults.inject("partner", "hang", count=-1)
    clock = FakeClock(start=time.time())
    result = await sim_source(session, clock, url, timeout=0.2).poll()
    assert ["timeout"] == [e.reason for e in result.errors]
    assert ["timeout", "timeout"] == [e.reason for e in result.retried]


async def test_huge_announced_total_is_read_at_most_max_pages(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """An upstream announcing a billion rows costs at most MAX_PAGES requests in one poll."""
    with aioresponses() as m:
        m.post(URL, payload=page([row(1, "1")], 10**9), repeat=True)
        result = await source(session, clock, page_size=1).poll()
        requests = len(sent(m))
    assert MAX_PAGES == requests
    assert 1.0 == values(result)[("coinw_affiliate_trading_volume", "")]
