"""CoinW WebSocket frames: what each answer and push is taken for, and how a push changes the
stored status groups."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.source_support import coupon_source
from watcher.clock import FakeClock
from watcher.errors import PushFrameError
from watcher.series import Series
from watcher.sources.coinw_coupon import CouponSource
from watcher.sources.coinw_push_apply import merge_pushed
from watcher.sources.coinw_push_frames import MAX_COUPONS, Frame, login_frame, parse_frame

ROW = {"id": 11, "type": 1, "currentAmount": "5.5", "totalAmount": 10, "startTime": 1000,
       "endTime": 2000, "kyc": 0, "assetsOut": 0, "remark": "hi", "agRecordId": 4004}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"event": "pong"}', Frame("pong")),
        ("pong", Frame("pong")),
        ('{"channel": "login", "data": {"result": true}}', Frame("login")),
        (
            '{"channel": "login", "data": {"result": false, "errorCode": 6000, '
            '"errorMsg": "auth error"}}',
            Frame("login", ok=False, error="6000 auth error"),
        ),
        ('{"channel": "login"}', Frame("login", ok=False, error="refused")),
        (
            '{"channel": "subscribe", "biz": "futures", "type": "assets_ag", "result": true}',
            Frame("subscribe"),
        ),
        (
            '{"biz": "futures", "type": "assets_ag", "data": {"id": 1}}',
            Frame("coupon", coupons=({"id": 1},)),
        ),
        (
            '{"biz": "futures", "type": "assets_ag", "data": [{"id": 1}, {"id": 2}]}',
            Frame("coupon", coupons=({"id": 1}, {"id": 2})),
        ),
    ],
)
def test_each_frame_is_taken_for_what_it_is(text: str, expected: Frame) -> None:
    """Routing as CoinW.Net does it: event pong, channel login / subscribe, then type."""
    assert expected == parse_frame(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("}{", "not_json"),
        ("[1, 2]", "bad_shape"),
        ('"assets_ag"', "bad_shape"),
        ('{"type": "mystery"}', "unknown_type"),
        ('{"type": ["x"]}', "unknown_type"),
        ('{"type": "assets_ag", "data": "x"}', "bad_shape"),
        ('{"type": "assets_ag", "data": []}', "bad_shape"),
        ('{"type": "assets_ag"}', "bad_shape"),
        (json.dumps({"type": "assets_ag", "data": [{}] * (MAX_COUPONS + 1)}), "bad_shape"),
    ],
)
def test_bad_frames_name_their_kind(text: str, kind: str) -> None:
    """Not JSON, not an object, an unknown type, a push without coupons, too many coupons."""
    with pytest.raises(PushFrameError) as info:
        parse_frame(text)
    assert kind == info.value.kind


def test_a_credential_with_quotes_cannot_break_the_login_frame() -> None:
    """Placeholders are replaced as JSON values, never spliced into text."""
    template = json.dumps(
        {"event": "login", "params": {"api_key": "<api_key>", "x": "<secret_key>"}}
    )
    frame = json.loads(login_frame(template, 'k"ey', 's\\"}', "p"))
    assert {"event": "login", "params": {"api_key": 'k"ey', "x": 's\\"}'}} == frame


@pytest.fixture
async def source() -> Any:
    clock = FakeClock()
    async with aiohttp.ClientSession() as session:
        yield coupon_source(
            session,
            clock,
            "https://api.coinw.com",
            api_key="k",
            secret_key="s",
            statuses=("pending", "unused"),
        )


def ids(series: list[Series]) -> list[str]:
    return sorted({s.labels["coupon_id"] for s in series if "coupon_id" in s.labels})


def count(series: list[Series]) -> float:
    assert "coinw_mega_coupons" == series[0].name
    return series[0].value


def group(source: CouponSource, status: str, *rows: dict[str, Any]) -> list[Series]:
    return merge_pushed(source, {}, [{**ROW, **r, "type": 0 if status == "pending" else 1}
                                     for r in rows])[status]  # fmt: skip


async def test_a_pushed_coupon_joins_its_group_and_the_others_stay(source: CouponSource) -> None:
    """The coupons the store holds for the status are handed back with the pushed one."""
    current = {"unused": group(source, "unused", {"id": 1}, {"id": 2})}
    changed = merge_pushed(source, current, [ROW])
    assert ["unused"] == list(changed)
    assert ["1", "11", "2"] == ids(changed["unused"])
    assert 3.0 == count(changed["unused"])
    assert {"11": "hi"} == {k: v for k, v in source.remarks["unused"].items() if k == "11"}
    value = next(s for s in changed["unused"] if s.name == "coinw_mega_coupon_remaining_amount"
                 and s.labels["coupon_id"] == "11")  # fmt: skip
    assert 5.5 == value.value


async def test_a_coupon_pushed_again_replaces_its_own_series(source: CouponSource) -> None:
    """No duplicate series: the coupon's previous values go."""
    current = {"unused": group(source, "unused", {"id": 11, "currentAmount": 9})}
    changed = merge_pushed(source, current, [{**ROW, "currentAmount": 1}])
    remaining = [s.value for s in changed["unused"] if s.name.endswith("remaining_amount")]
    assert [1.0] == remaining
    assert 1.0 == count(changed["unused"])


async def test_a_status_change_moves_the_coupon_and_counts_the_push(source: CouponSource) -> None:
    """Used now (a status not configured): it leaves unused, joins nothing; both counters move."""
    current = {
        "unused": group(source, "unused", {"id": 11}, {"id": 12}),
        "pending": group(source, "pending", {"id": 13}),
    }
    pushes = dict(source.pushes)
    changed = merge_pushed(source, current, [{**ROW, "type": 2}])
    assert ["unused"] == list(changed)
    assert (["12"], 1.0) == (ids(changed["unused"]), count(changed["unused"]))
    assert pushes.get("unused", 0) + 1 == source.pushes["unused"]
    changed = merge_pushed(source, current, [{**ROW, "id": 12, "type": 0}])
    assert {"unused": ["11"], "pending": ["12", "13"]} == {k: ids(v) for k, v in changed.items()}


@pytest.mark.parametrize(
    "row",
    [{**ROW, "id": None}, {**ROW, "type": 9}, {**ROW, "type": True}, {**ROW, "type": [1]},
     {**ROW, "currentAmount": "lots"}, {**ROW, "kyc": 7}],
)  # fmt: skip
async def test_an_invalid_coupon_changes_nothing(source: CouponSource, row: dict[str, Any]) -> None:
    """A coupon with a bad id, type or field is refused whole (ValueError naming it)."""
    pushes = dict(source.pushes)
    with pytest.raises(ValueError, match="coupon"):
        merge_pushed(source, {}, [ROW, row])
    assert pushes == source.pushes
