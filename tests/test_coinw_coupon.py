"""The Mega Coupon source: request shape, parsing, and every upstream fault."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

from tests.aiohttp_mock import aioresponses
from tests.source_support import coupon_source
from watcher.clock import FakeClock
from watcher.sources.coinw_coupon import CouponSource

URL = re.compile(r"^https://api\.coinw\.test/v1/perpum/account/almightyGoldInfo\?type=\d$")
ROW = {
    "agRecordId": 4004,
    "assetsOut": 0,
    "backAmount": 0,
    "createdDate": 1740555154000,
    "currentAmount": 5,
    "endTime": 1742918400000,
    "id": 800149683,
    "kyc": 1,
    "name": "x",
    "processStatus": 0,
    "remark": "r",
    "startTime": 1740555125000,
    "totalAmount": 5,
    "transferExpire": 0,
    "type": 1,
    "updateDate": 1740555154000,
    "userId": 1162061,
}


def source(
    session: aiohttp.ClientSession, clock: FakeClock, statuses: tuple[str, ...] = ("unused",)
) -> CouponSource:
    return coupon_source(
        session,
        clock,
        "https://api.coinw.test",
        api_key="k",
        secret_key="s",
        statuses=statuses,
        labels={"team": "growth"},
    )


def values(result: Any) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("coupon_id", "")): s.value for g in result.groups.values() for s in g
    }


async def test_parses_the_documented_response(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """The upstream example becomes the docs/product.md metrics with source, status and labels."""
    with aioresponses() as m:
        m.get(URL, payload={"code": 0, "data": [ROW], "msg": ""})
        result = await source(session, clock).poll()
    assert result.errors == []
    series = result.groups["unused"]
    labels = {"source": "c", "team": "growth", "coupon_id": "800149683", "status": "unused"}
    by_name = {s.name: s for s in series}
    assert labels == dict(by_name["coinw_mega_coupon_remaining_amount"].labels)
    assert by_name["coinw_mega_coupon_remaining_amount"].value == 5.0
    assert by_name["coinw_mega_coupon_expiry_timestamp_seconds"].value == 1742918400.0
    assert by_name["coinw_mega_coupon_valid_from_timestamp_seconds"].value == 1740555125.0
    assert by_name["coinw_mega_coupon_kyc_required"].value == 1.0
    assert by_name["coinw_mega_coupon_assets_out_invalid"].value == 0.0
    assert by_name["coinw_mega_coupons"].value == 1.0


async def test_one_signed_request_per_status(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Each status is one GET ?type=N with api_key, timestamp and sign headers, 2 s+ apart."""
    with aioresponses() as m:
        m.get(URL, payload={"code": 0, "data": [], "msg": ""}, repeat=True)
        await source(session, clock, ("pending", "expired")).poll()
        calls = [(str(k[1]), v) for k, vs in m.requests.items() for v in vs]
    urls = sorted(u for u, _ in calls)
    assert urls == [
        "https://api.coinw.test/v1/perpum/account/almightyGoldInfo?type=0",
        "https://api.coinw.test/v1/perpum/account/almightyGoldInfo?type=3",
    ]
    headers = calls[0][1].kwargs["headers"]
    assert {"api_key", "timestamp", "sign", "Accept-Encoding"} == set(headers)
    assert clock.monotonic() >= 2.0


async def test_decimal_strings_and_numbers(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """Amounts given as JSON numbers or decimal strings both parse exactly."""
    rows = [
        {**ROW, "id": 1, "currentAmount": "12.345678901234567"},
        {**ROW, "id": 2, "currentAmount": 0.1},
    ]
    with aioresponses() as m:
        m.get(URL, payload={"code": 0, "data": rows, "msg": ""})
        result = await source(session, clock).poll()
    got = values(result)
    assert got[("coinw_mega_coupon_remaining_amount", "1")] == 12.345678901234567
    assert got[("coinw_mega_coupon_remaining_amount", "2")] == 0.1


async def test_invalid_row_is_skipped_and_counted(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A row with a non-numeric amount is skipped; the rest of the response still counts."""
    rows = [{**ROW, "id": 1, "currentAmount": "lots"}, {**ROW, "id": 2}]
    with aioresponses() as m:
        m.get(URL, payload={"code": 0, "data": rows, "msg": ""})
        result = await source(session, clock).poll()
    assert result.skipped_rows == 1
    assert {"2"} == {
        s.labels["coupon_id"] for s in result.groups["unused"] if "coupon_id" in s.labels
    }


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"status": 200, "payload": {"code": 6001, "msg": "invalid signature"}}, "auth"),
        ({"status": 200, "payload": {"code": 6003, "message": "require more permission"}}, "auth"),
        (
            {"status": 200, "payload": {"code": 29001, "msg": "API access frequently"}},
            "rate_limited",
        ),
        (
            {"status": 429, "payload": {"code": 29001, "msg": "API access frequently"}},
            "rate_limited",
        ),
        ({"status": 400, "payload": {"code": 904, "msg": "bad"}}, "http"),
        ({"status": 404, "body": "not found"}, "http"),
        ({"status": 200, "payload": {"code": 402, "msg": "param required"}}, "api_error"),
        ({"status": 200, "body": "<html>oops</html>"}, "malformed"),
        ({"status": 200, "payload": {"code": 0, "data": {"x": 1}}}, "malformed"),
        ({"status": 200, "payload": [1, 2]}, "malformed"),
        ({"status": 200, "payload": {"data": []}}, "malformed"),
        ({"status": 200, "body": '{"code": Infinity, "data": []}'}, "api_error"),
        ({"status": 200, "payload": {"code": False, "data": []}}, "api_error"),
        ({"status": 200, "body": '{"code": 0, "data": [], "x": ' + "9" * 5000 + "}"}, "malformed"),
        ({"status": 200, "body": "[" * 100_000 + "]" * 100_000}, "malformed"),
    ],
)
async def test_faults_fail_the_status_with_a_reason(
    session: aiohttp.ClientSession, clock: FakeClock, reply: dict[str, Any], reason: str
) -> None:
    """Each upstream fault becomes one error with the right reason, and no series."""
    with aioresponses() as m:
        m.get(URL, **reply)
        result = await source(session, clock).poll()
    assert [reason] == [e.reason for e in result.errors]
    assert result.groups == {}
    assert "s" not in str(result.errors[0]).split(":")[0]  # the secret key is never in messages


async def test_transient_failures_are_retried_within_the_poll(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """HTTP 500 then success: the poll succeeds, the retried error is still counted."""
    with aioresponses() as m:
        m.get(URL, status=500, payload={"code": 500, "msg": "internal"})
        m.get(URL, payload={"code": 0, "data": [ROW], "msg": ""})
        result = await source(session, clock).poll()
    assert result.errors == []
    assert [e.reason for e in result.retried] == ["http"]
    assert "unused" in result.groups


async def test_timeouts_give_up_after_three_attempts(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A hanging upstream is a timeout error after three attempts, not a hung poll."""
    with aioresponses() as m:
        m.get(URL, exception=TimeoutError(), repeat=True)
        result = await source(session, clock).poll()
    assert [e.reason for e in result.errors] == ["timeout"]
    assert len(result.retried) == 2


async def test_rate_limit_backs_off_and_skips_the_rest(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """After 29001 the remaining statuses wait for the next poll and the key is paused 10 s+."""
    src = source(session, clock, ("pending", "unused", "used"))
    with aioresponses() as m:
        m.get(URL, payload={"code": 29001, "msg": "API access frequently"})
        result = await src.poll()
        assert len(m.requests) == 1
    assert [e.reason for e in result.errors] == ["rate_limited"]
    assert src._limiter.next_slot_in >= 10.0


@pytest.mark.parametrize(
    ("retry_after", "paused"),
    [("120", 120.0), ("inf", 8 * 3600.0), ("1e300", 8 * 3600.0), ("-5", 10.0), ("nan", 10.0)],
)
async def test_an_upstream_retry_after_pauses_the_key_within_bounds(
    session: aiohttp.ClientSession, clock: FakeClock, retry_after: str, paused: float
) -> None:
    """A 429's Retry-After pauses the key as long as it asks, but never past 8 h (CoinW's
    longest ban): ``inf`` cannot stop the key for good; an unreadable one (negative, NaN)
    gets the first backoff step, 10 s."""
    src = source(session, clock)
    with aioresponses() as m:
        m.get(URL, status=429, headers={"Retry-After": retry_after}, payload={"code": 29001})
        result = await src.poll()
    assert [e.reason for e in result.errors] == ["rate_limited"]
    assert paused == pytest.approx(src._limiter.next_slot_in, abs=0.01)


async def test_amounts_a_gauge_cannot_hold_are_invalid_rows(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """1e400 would export as +Inf: the row is skipped and counted, the others still count."""
    rows = [{**ROW, "id": 1, "currentAmount": "1e400"}, {**ROW, "id": 2}]
    with aioresponses() as m:
        m.get(
            URL,
            body='{"code": 0, "msg": "", "data": '
            + json.dumps(rows).replace('"1e400"', "1e400")
            + "}",
        )
        result = await source(session, clock).poll()
    assert 1 == result.skipped_rows
    assert {"2"} == {
        s.labels["coupon_id"] for s in result.groups["unused"] if "coupon_id" in s.labels
    }


async def test_duplicate_ids_in_one_response_do_not_duplicate_series(
    session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    """A coupon listed twice gives one series per metric (the later row wins)."""
    with aioresponses() as m:
        m.get(URL, payload={"code": 0, "data": [ROW, {**ROW, "currentAmount": 3}], "msg": ""})
        result = await source(session, clock).poll()
    remaining = [
        s for s in result.groups["unused"] if s.name == "coinw_mega_coupon_remaining_amount"
    ]
    assert [s.value for s in remaining] == [3.0]
