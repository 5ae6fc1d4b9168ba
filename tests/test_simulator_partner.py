"""The simulated CoinW partner endpoint: signature, body, paging, 5 requests/s, control routes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.simserver import serve
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, SimState
from watcher.simulator.partner import PARTNER_PATH, invitee_row

Sim = tuple[aiohttp.ClientSession, str, SimState]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    state = SimState(partner_per_second=0)
    async with serve(state) as url, aiohttp.ClientSession() as session:
        yield session, url, state


async def call(
    sim: Sim, body: str, *, secret: str = DEMO_SECRET_KEY, api_key: str = DEMO_API_KEY
) -> dict[str, Any]:
    """POST ``body`` signed the way CoinW documents it, computed here with hmac directly."""
    session, url, _ = sim
    ts = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}POST{PARTNER_PATH}{body}".encode(), hashlib.sha256)
    headers = {
        "api_key": api_key,
        "timestamp": ts,
        "sign": base64.b64encode(digest.digest()).decode(),
        "Content-Type": "application/json",
    }
    async with session.post(f"{url}{PARTNER_PATH}", data=body.encode(), headers=headers) as resp:
        assert 200 == resp.status
        result: dict[str, Any] = await resp.json()
        return result


async def test_default_scenario_has_recent_volume(sim: Sim) -> None:
    """An empty body ({}) returns the last 30 days, today first, with non-zero volumes."""
    answer = await call(sim, "{}")
    assert ("200", "success") == (answer["code"], answer["msg"])
    rows = answer["data"]["list"]
    assert 240 == answer["data"]["total"]
    assert 100 == len(rows)  # upstream's default pageSize
    assert datetime.now(UTC).date().isoformat() == rows[0]["time"]
    assert any(float(r["volume"]) > 0 for r in rows)


async def test_rows_have_upstream_shapes(sim: Sim) -> None:
    """uid is an integer, volume an 8-decimal string, time yyyy-MM-dd; sorted by time desc."""
    answer = await call(sim, '{"pageSize":1000}')
    rows = answer["data"]["list"]
    assert all(isinstance(r["uid"], int) for r in rows)
    assert all(re.fullmatch(r"\d+\.\d{8}", r["volume"]) for r in rows)
    assert sorted((r["time"] for r in rows), reverse=True) == [r["time"] for r in rows]


async def test_pages_cover_the_window_exactly_once(sim: Sim) -> None:
    """2,500 rows in pages of 1000 are 1000 + 1000 + 500 distinct (uid, day) rows."""
    _, _, state = sim
    state.invitee_rows = 2500
    seen: list[tuple[int, str]] = []
    for page in (1, 2, 3, 4):
        body = json.dumps(
            {"startTime": "2024-03-01", "endTime": "2024-03-30", "pageNo": page, "pageSize": 1000}
        )
        answer = await call(sim, body)
        assert 2500 == answer["data"]["total"]
        seen.extend((r["uid"], r["time"]) for r in answer["data"]["list"])
    assert 2500 == len(seen) == len(set(seen))
    assert {"2024-03-30", "2024-03-01"} <= {d for _, d in seen}


async def test_page_size_is_capped_at_1000(sim: Sim) -> None:
    """pageSize above upstream's maximum returns 1000 rows."""
    _, _, state = sim
    state.invitee_rows = 5000
    answer = await call(sim, '{"pageSize":5000}')
    assert 1000 == len(answer["data"]["list"])


async def test_uid_filter(sim: Sim) -> None:
    """uid returns only that invitee's rows, with a matching total."""
    answer = await call(sim, '{"uid":10000002,"pageSize":1000}')
    rows = answer["data"]["list"]
    assert {10000002} == {r["uid"] for r in rows}
    assert len(rows) == answer["data"]["total"] == 30


@pytest.mark.parametrize(
    ("body", "secret", "api_key", "code"),
    [
        ("{}", "wrong-secret", DEMO_API_KEY, 6001),
        ("{}", DEMO_SECRET_KEY, "unknown-key", 6000),
        ("", DEMO_SECRET_KEY, DEMO_API_KEY, 402),
        ('{"startTime":"01/03/2024"}', DEMO_SECRET_KEY, DEMO_API_KEY, 402),
        ('{"startTime":"2024-03-05","endTime":"2024-03-01"}', DEMO_SECRET_KEY, DEMO_API_KEY, 402),
        ('{"pageNo":0}', DEMO_SECRET_KEY, DEMO_API_KEY, 402),
    ],
)
async def test_bad_requests_get_futures_style_errors(
    sim: Sim, body: str, secret: str, api_key: str, code: int
) -> None:
    """Bad signatures, unknown keys, missing params and bad dates get numeric CoinW error codes."""
    answer = await call(sim, body, secret=secret, api_key=api_key)
    assert code == answer["code"]


async def test_signature_covers_the_body(sim: Sim) -> None:
    """A body changed after signing is rejected (the body takes part in the signature)."""
    session, url, _ = sim
    ts = str(int(time.time() * 1000))
    digest = hmac.new(
        DEMO_SECRET_KEY.encode(), f"{ts}POST{PARTNER_PATH}{{}}".encode(), hashlib.sha256
    )
    headers = {
        "api_key": DEMO_API_KEY,
        "timestamp": ts,
        "sign": base64.b64encode(digest.digest()).decode(),
    }
    async with session.post(f"{url}{PARTNER_PATH}", data=b'{"pageNo":2}', headers=headers) as resp:
        assert 6001 == (await resp.json())["code"]


async def test_more_than_5_requests_a_second_is_refused(sim: Sim) -> None:
    """The sixth request within a second gets 29001 "API access frequently"."""
    _, _, state = sim
    state.partner_per_second = 5
    codes = [(await call(sim, "{}"))["code"] for _ in range(6)]
    assert ["200"] * 5 + [29001] == codes
    assert 1 == state.summary()["rate_limit_violations"]


async def test_control_route_sets_the_row_count(sim: Sim) -> None:
    """POST /_sim/invitees {"rows": N} changes the total; out-of-range N is a 400."""
    session, url, _ = sim
    async with session.post(f"{url}/_sim/invitees", json={"rows": 7}) as resp:
        assert 200 == resp.status
    assert 7 == (await call(sim, "{}"))["data"]["total"]
    async with session.post(f"{url}/_sim/invitees", json={"rows": 100_001}) as resp:
        assert 400 == resp.status


async def test_faults_via_control_api(sim: Sim) -> None:
    """POST /_sim/faults for the partner endpoint answers the next request with that fault."""
    session, url, _ = sim
    async with session.post(
        f"{url}/_sim/faults", json={"endpoint": "partner", "kind": "bad_signature"}
    ) as resp:
        assert 200 == resp.status
    assert 6001 == (await call(sim, "{}"))["code"]
    assert "200" == (await call(sim, "{}"))["code"]


def test_rows_are_deterministic_and_cheap() -> None:
    """Row i of a window is a pure function: the 100,000th row needs no other row."""
    start, end = date(2024, 1, 1), date(2024, 1, 30)
    last = invitee_row(99_999, 100_000, start, end)
    assert last == invitee_row(99_999, 100_000, start, end)
    assert start <= date.fromisoformat(last["time"]) <= end
    assert end - timedelta(days=0) == date.fromisoformat(
        invitee_row(0, 100_000, start, end)["time"]
    )
