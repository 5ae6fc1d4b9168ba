"""The upstream fault suite: every fault class of the dependability issue, through the real
sources and the SourceRunner, against a real server on 127.0.0.1 (tests/faultserver.py).

For each fault and each source: the right ``watcher_source_errors_total{reason}`` rises, the
error is one line naming the request, nothing logs a traceback, no secret shows anywhere, the
last good series stay, and the next good answer brings the source back. Each case that held
is a row of the fault table (tests/reliability.py).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import structlog
from prometheus_client import CollectorRegistry, generate_latest

from tests.faultserver import (
    FaultServer,
    Reply,
    chunked,
    drip,
    hang,
    head,
    json_reply,
    raw,
    reset_mid_body,
)
from tests.reliability import record
from tests.source_support import coupon_source
from watcher.clock import FakeClock
from watcher.config.model import (
    CoinwInviteeConfig,
    Secret,
    TradebossAccount,
    TradebossConfig,
)
from watcher.metrics import WatcherMetrics
from watcher.ratelimit import LimiterRegistry
from watcher.sources.base import Source
from watcher.sources.coinw_invitee import PATH as INVITEE_PATH
from watcher.sources.coinw_invitee import InviteeSource
from watcher.sources.runner import SourceRunner
from watcher.sources.tradeboss import PATH as TRADEBOSS_PATH
from watcher.sources.tradeboss import TradebossSource
from watcher.store import SeriesStore

API_KEY = "COINW-APIKEY-7a1b2c3d"
SECRET_KEY = "COINW-SECRETKEY-9z8y7x"
TOKEN = "TB-BEARER-TOKEN-5f5f5f"
SECRETS = (API_KEY, SECRET_KEY, TOKEN)
# The timeout of the cases that test it; every other case has a timeout no load can reach.
TIMEOUT = 0.5  # and long enough for the good answers around the fault, under load
GENEROUS = 30.0
LIMIT = 4096


@dataclass(frozen=True)
class Kind:
    """One source type: how to build it, its request name, and its answers."""

    name: str
    what: str
    good: dict[str, Any]
    build: Callable[[aiohttp.ClientSession, FakeClock, str, int, float], Source]
    api_rate_limit: dict[str, Any]
    echo: Callable[[dict[str, str]], dict[str, Any]]
    echo_reason: str
    #: (fault, answer, reason, whether the poll fails)
    shapes: list[tuple[str, Any, str, bool]] = field(default_factory=list)


def _coupon(
    session: aiohttp.ClientSession, clock: FakeClock, url: str, limit: int, timeout: float
) -> Source:
    return coupon_source(
        session,
        clock,
        url,
        name="coupons",
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        statuses=("unused",),
        timeout=timeout,
        body_size_limit=limit,
    )


def _invitee(
    session: aiohttp.ClientSession, clock: FakeClock, url: str, limit: int, timeout: float
) -> Source:
    cfg = CoinwInviteeConfig(
        name="affiliate",
        type="coinw_invitee_volume",
        base_url=url,
        api_key=Secret(API_KEY),
        secret_key=Secret(SECRET_KEY),
        timeout=timeout,
        body_size_limit=limit,
    )
    return InviteeSource(cfg, session, LimiterRegistry(clock), clock)


def _tradeboss(
    session: aiohttp.ClientSession, clock: FakeClock, url: str, limit: int, timeout: float
) -> Source:
    cfg = TradebossConfig(
        name="wallet",
        type="tradeboss_balance",
        base_url=url,
        company_id=7,
        headers={"Authorization": Secret(f"Bearer {TOKEN}")},
        accounts=(TradebossAccount(third_server_code="t1", user_name="86000001", currency="HKD"),),
        timeout=timeout,
        body_size_limit=limit,
    )
    return TradebossSource(cfg, session, LimiterRegistry(clock), clock)


COUPON_ROW = {
    "id": 800149683,
    "currentAmount": "5.25",
    "totalAmount": 10,
    "startTime": 1740555125000,
    "endTime": 1742918400000,
    "kyc": 1,
    "assetsOut": 0,
    "remark": "r",
}
INVITEE_ROW = {"uid": "1162061", "time": "2023-11-14", "volume": "1234.5"}


def _coupons(*rows: Any) -> dict[str, Any]:
    return {"code": 0, "msg": "", "data": list(rows)}


def _invitees(*rows: Any, total: Any = None) -> dict[str, Any]:
    count = len(rows) if total is None else total
    return {"code": "200", "msg": "success", "data": {"total": count, "list": list(rows)}}


def _balance(**data: Any) -> dict[str, Any]:
    return {"code": "0", "ok": True, "msg": "", "data": {"amount": "42.10", **data}}


def _headers_text(headers: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in headers.items())


KINDS = [
    Kind(
        name="coinw_mega_coupon",
        what="GET /v1/perpum/account/almightyGoldInfo?type=1",
        good=_coupons(COUPON_ROW),
        build=_coupon,
        api_rate_limit={"code": 29001, "msg": "API access frequently"},
        echo=lambda h: {"code": 6001, "msg": f"invalid signature for {_headers_text(h)}"},
        echo_reason="auth",
        shapes=[
            ("wrong type: data is an object", {"code": 0, "data": {"id": 1}}, "malformed", True),
            ("wrong type: code is a list", {"code": [0], "data": []}, "api_error", True),
            (
                "wrong type: currentAmount is an object",
                _coupons({**COUPON_ROW, "id": 2, "currentAmount": {"v": 1}}, COUPON_ROW),
                "invalid_row",
                False,
            ),
            (
                "wrong type: kyc is a string",
                _coupons({**COUPON_ROW, "id": 2, "kyc": "yes"}, COUPON_ROW),
                "invalid_row",
                False,
            ),
            ("missing field: code", {"data": [COUPON_ROW]}, "malformed", True),
            (
                "missing field: row id",
                _coupons({k: v for k, v in COUPON_ROW.items() if k != "id"}, COUPON_ROW),
                "invalid_row",
                False,
            ),
            (
                "missing field: currentAmount",
                _coupons({"id": 3, "totalAmount": 1}, COUPON_ROW),
                "invalid_row",
                False,
            ),
        ],
    ),
    Kind(
        name="coinw_invitee_volume",
        what=f"POST {INVITEE_PATH} page 1",
        good=_invitees(INVITEE_ROW),
        build=_invitee,
        api_rate_limit={"code": 29001, "msg": "API access frequently"},
        echo=lambda h: {"code": 6000, "msg": f"api key rejected: {_headers_text(h)}"},
        echo_reason="auth",
        shapes=[
            (
                "wrong type: data.list is a string",
                {"code": "200", "data": {"list": "x", "total": 1}},
                "malformed",
                True,
            ),
            ("wrong type: data.total", _invitees(INVITEE_ROW, total="many"), "malformed", True),
            (
                "wrong type: volume is a list",
                _invitees({**INVITEE_ROW, "uid": "7", "volume": [1]}, INVITEE_ROW),
                "invalid_row",
                False,
            ),
            ("missing field: code", {"data": {"list": [], "total": 0}}, "malformed", True),
            ("missing field: data", {"code": "200", "msg": "success"}, "malformed", True),
            (
                "missing field: data.list",
                {"code": "200", "data": {"total": 3}},
                "malformed",
                True,
            ),
            (
                "missing field: row uid",
                _invitees({"time": "2023-11-14", "volume": "1"}, INVITEE_ROW),
                "invalid_row",
                False,
            ),
        ],
    ),
    Kind(
        name="tradeboss_balance",
        what=f"POST {TRADEBOSS_PATH} user 86000001 HKD",
        good=_balance(amount_digits=2),
        build=_tradeboss,
        api_rate_limit={"code": "GGATEWAY_CODE_018", "ok": False, "msg": "too frequent"},
        echo=lambda h: {"code": "GGATEWAY_CODE_003", "ok": False, "msg": _headers_text(h)},
        echo_reason="api_error",
        shapes=[
            (
                "wrong type: data is a list",
                {"code": "0", "ok": True, "data": []},
                "malformed",
                True,
            ),
            ("wrong type: amount is an object", _balance(amount={"v": 1}), "invalid_row", True),
            ("wrong type: amount_digits", _balance(amount_digits="two"), "invalid_row", True),
            ("wrong type: ok is a string", {**_balance(), "ok": "yes"}, "api_error", True),
            ("missing field: code", {"ok": True, "data": {"amount": "1"}}, "malformed", True),
            ("missing field: data", {"code": "0", "ok": True}, "malformed", True),
            ("missing field: amount", {"code": "0", "ok": True, "data": {}}, "invalid_row", True),
        ],
    ),
]


class Harness:
    """One real source under a SourceRunner on a fake clock, polling the fault server."""

    def __init__(
        self,
        kind: Kind,
        session: aiohttp.ClientSession,
        server: FaultServer,
        limit: int = LIMIT,
        timeout: float = GENEROUS,
    ) -> None:
        self.kind = kind
        self.server = server
        self.clock = FakeClock()
        self.registry = CollectorRegistry()
        self.store = SeriesStore()
        self.source = kind.build(session, self.clock, server.url, limit, timeout)
        self.runner = SourceRunner(
            self.source, self.store, WatcherMetrics(self.registry), self.clock
        )

    def errors(self, reason: str) -> float:
        labels = {"source": self.source.config.name, "reason": reason}
        return self.registry.get_sample_value("watcher_source_errors_total", labels) or 0.0

    def up(self) -> float | None:
        labels = {"source": self.source.config.name}
        return self.registry.get_sample_value("watcher_source_up", labels)

    def series(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in self.store.series()}

    async def poll(self) -> bool:
        ok = await self.runner.poll_once()
        self.clock.advance(self.source.config.interval)
        return ok


@pytest.fixture
async def server() -> AsyncIterator[FaultServer]:
    async with FaultServer() as s:
        yield s


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


async def _try_fault(
    h: Harness,
    fault: str,
    reply: Reply | None,
    reason: str | None,
    *,
    fails: bool = True,
    polls: int = 1,
    refuse: bool = False,
) -> None:
    """Good poll, ``polls`` polls under the fault, good poll again: assert and record."""
    server = h.server
    good = json_reply(h.kind.good)
    server.default = good
    assert await h.poll()
    kept = h.series()
    before = h.errors(reason) if reason else 0.0
    others_before = {r: h.errors(r) for r in ("timeout", "connection", "http", "malformed")}
    requests_before = len(server.requests)
    if refuse:
        await server.refuse()
    elif reply is not None:
        server.default = reply
    with structlog.testing.capture_logs() as logs:
        results = [await h.poll() for _ in range(polls)]
        last_error = h.runner.last_error
    rose = (h.errors(reason) - before) if reason else 0.0
    if reason:
        assert rose >= polls, f"{fault}: {reason} rose by {rose}"
    else:
        assert others_before == {r: h.errors(r) for r in others_before}
    assert all(not ok for ok in results) if fails else all(results)
    if fails:
        assert 0 == h.up()
        assert last_error is not None
        assert "\n" not in last_error
        assert last_error.startswith(f"{reason}: {h.kind.what}"), last_error
        cfg = h.source.config
        if polls * cfg.interval < cfg.stale_after:
            assert kept == h.series()  # the last good series stay until stale_after
        else:
            assert {} == h.series()  # ... and no longer
    else:
        assert last_error is None
    assert not [e for e in logs if "exc_info" in e or e["log_level"] in ("error", "critical")]
    assert all("\n" not in str(v) for e in logs for v in e.values())
    _no_secret(repr(logs), str(last_error), generate_latest(h.registry).decode())
    # recovery: the next good answer
    if refuse:
        await server.start()
    server.default = good
    assert await h.poll()
    assert (1, None) == (h.up(), h.runner.last_error)
    record(
        "upstream",
        f"{h.kind.name}: {fault}",
        {
            "reason": reason or "-",
            "errors_counted": rose,
            "poll_failed": fails,
            "requests": len(server.requests) - requests_before - 1,
            "message": (last_error or "-")[:160],
            "recovered": True,
            "traceback": False,
            "secret_shown": False,
        },
    )


def _cut(body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return data[: len(data) // 2]


def _html(status: int) -> Reply:
    page = b"<html>\r\n<head><title>Bad Gateway</title></head>\r\n<body>nginx</body>\r\n</html>"
    return raw(head(status, {"Content-Type": "text/html"}, len(page)) + page)


TRANSPORT = ["500", "502", "503", "refused", "reset", "hang", "drip", "slow drip"]


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
@pytest.mark.parametrize("fault", TRANSPORT)
async def test_transport_faults(
    kind: Kind, fault: str, server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """5xx, refused, reset mid-body, hang past timeout and drips: reason counted, then recovery."""
    timeout = TIMEOUT if fault in ("hang", "slow drip") else GENEROUS
    h = Harness(kind, session, server, timeout=timeout)
    body = {**kind.good, "padding": "p" * 1000}
    if fault in ("500", "502", "503"):
        reply = json_reply({"code": int(fault), "msg": "internal error"}, status=int(fault))
        await _try_fault(h, f"HTTP {fault}", reply, "http")
    elif fault == "refused":
        await _try_fault(h, "connection refused", None, "connection", refuse=True)
    elif fault == "reset":
        await _try_fault(h, "reset mid-body", reset_mid_body(body, sent=300), "connection")
    elif fault == "hang":
        await _try_fault(h, f"hang past timeout ({TIMEOUT}s)", hang(), "timeout")
    elif fault == "drip":
        await _try_fault(h, "drip, 1 byte per write", drip(body), None, fails=False)
    else:
        await _try_fault(h, "drip slower than timeout", drip(body, delay=0.01), "timeout")


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
@pytest.mark.parametrize(
    "fault",
    ["chunked", "truncated JSON", "malformed JSON", "HTML 502", "HTML 200", "over the cap"],
)
async def test_body_faults(
    kind: Kind, fault: str, server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """Bodies in pieces, cut short, not JSON, HTML, or over body_size_limit."""
    h = Harness(kind, session, server)
    if fault == "chunked":
        reply = chunked({**kind.good, "padding": "p" * 3000}, pieces=5, delay=0.01)
        await _try_fault(h, "body in 5 delayed pieces", reply, None, fails=False)
    elif fault == "truncated JSON":
        cut = _cut(kind.good)
        await _try_fault(h, fault, raw(head(200, None, len(cut)) + cut), "malformed")
    elif fault == "malformed JSON":
        await _try_fault(h, fault, json_reply(b'{"code": 0, "data": [1,,]}'), "malformed")
    elif fault == "HTML 502":
        await _try_fault(h, "HTML error page, HTTP 502", _html(502), "http")
    elif fault == "HTML 200":
        await _try_fault(h, "HTML page, HTTP 200", _html(200), "malformed")
    else:
        big = json_reply({**kind.good, "padding": "p" * LIMIT})
        await _try_fault(h, f"body over the cap ({LIMIT} bytes)", big, "too_large")


@pytest.mark.parametrize(
    ("kind", "case"),
    [(k, s) for k in KINDS for s in k.shapes],
    ids=[f"{k.name}-{s[0]}" for k in KINDS for s in k.shapes],
)
async def test_wrong_types_and_missing_fields(
    kind: Kind,
    case: tuple[str, Any, str, bool],
    server: FaultServer,
    session: aiohttp.ClientSession,
) -> None:
    """A field of the wrong type or missing: the answer fails, or just the row is skipped."""
    fault, answer, reason, fails = case
    h = Harness(kind, session, server)
    await _try_fault(h, fault, json_reply(answer), reason, fails=fails)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
@pytest.mark.parametrize("storm", ["api code", "HTTP 429"])
async def test_rate_limit_storms(
    kind: Kind, storm: str, server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """Ten polls in a row told "too fast": each counted as rate_limited, then recovery."""
    h = Harness(kind, session, server)
    if storm == "api code":
        reply = json_reply(kind.api_rate_limit)
        name = f"rate-limit storm, code {kind.api_rate_limit['code']}"
    else:
        reply = json_reply(kind.api_rate_limit, status=429, headers={"Retry-After": "1"})
        name = "rate-limit storm, HTTP 429 + Retry-After"
    await _try_fault(h, name, reply, "rate_limited", polls=10)


def _invalid_utf8(kind: Kind) -> tuple[bytes, str | None, bool]:
    if kind.name == "coinw_mega_coupon":  # in a free-text field and in the id label
        row = json.dumps({**COUPON_ROW, "id": "80XX01", "remark": "caf"}).encode()
        row = row.replace(b"XX", b"\xff\xfe").replace(b"caf", b"caf\xe9")
        return b'{"code": 0, "data": [' + row + b"]}", None, False
    if kind.name == "coinw_invitee_volume":  # in a uid: that row is skipped and counted
        bad = json.dumps({**INVITEE_ROW, "uid": "11XX"}).encode().replace(b"XX", b"\xc3\x28")
        good = json.dumps(INVITEE_ROW).encode()
        body = b'{"code": "200", "data": {"total": 2, "list": [' + bad + b", " + good + b"]}}"
        return body, "invalid_row", False
    body = json.dumps(_balance(amount_digits=2, note="XX")).encode().replace(b"XX", b"\x80\x81")
    return body, None, False


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
async def test_invalid_utf8(
    kind: Kind, server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """Bytes that are not UTF-8 do not fail the source: replaced in their string, rest kept."""
    body, reason, fails = _invalid_utf8(kind)
    h = Harness(kind, session, server)
    await _try_fault(h, "invalid UTF-8 in strings", json_reply(body), reason, fails=fails)
    if kind.name == "coinw_mega_coupon":
        server.default = json_reply(body)
        assert await h.poll()
        ids = {dict(k[1]).get("coupon_id") for k in h.series()}
        assert "80\ufffd\ufffd01" in ids


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
async def test_echoed_secrets_are_redacted(
    kind: Kind, server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """An upstream quoting every request header back (keys, signature, bearer token) in its
    error shows none of them in the error, logs, last_error or metrics."""
    h = Harness(kind, session, server)

    async def echo(w: Any) -> None:
        await json_reply(kind.echo(server.requests[-1].headers))(w)

    await _try_fault(h, "upstream echoes the request headers", echo, kind.echo_reason)
    echoed = json.dumps(kind.echo(server.requests[-2].headers))
    assert any(secret in echoed for secret in SECRETS)  # the upstream did quote a secret


async def test_100k_coupon_answer_parses(
    server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """A 100,000-coupon answer (about 17 MB, under the default 32 MiB cap) is read and parsed."""
    rows = [{**COUPON_ROW, "id": 10_000_000 + i, "currentAmount": f"{i}.5"} for i in range(100_000)]
    server.queue(json_reply(_coupons(*rows)))
    clock = FakeClock()
    source = coupon_source(
        session,
        clock,
        server.url,
        name="coupons",
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        statuses=("unused",),
    )
    result = await source.poll()
    assert [] == result.errors
    series = result.groups["unused"]
    count = next(s for s in series if s.name == "coinw_mega_coupons")
    assert 100_000.0 == count.value
    remaining = {
        s.labels["coupon_id"]: s.value
        for s in series
        if s.name == "coinw_mega_coupon_remaining_amount"
    }
    assert 99_999.5 == remaining["10099999"]
    record("upstream", "coinw_mega_coupon: 100,000 coupons in one answer", {"parsed": 100_000})


async def test_many_invalid_rows_are_counted_not_logged_one_by_one(
    server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """1,000 invalid coupons count 1,000 invalid_row errors but log at most 11 lines."""
    h = Harness(KINDS[0], session, server, limit=1024 * 1024)
    bad = [{**COUPON_ROW, "id": i, "kyc": "maybe"} for i in range(1000)]
    h.server.queue(json_reply(_coupons(*bad, COUPON_ROW)))
    with structlog.testing.capture_logs() as logs:
        assert await h.poll()
    assert 1000 == h.errors("invalid_row")
    assert 11 == len([e for e in logs if e["event"].startswith("source.invalid_row")])


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_memory_and_open_files_stay_flat(
    server: FaultServer, session: aiohttp.ClientSession
) -> None:
    """300 polls cycling through faults and good answers leak no sockets and no memory."""
    h = Harness(KINDS[0], session, server)
    good = json_reply(KINDS[0].good)
    cycle = [
        json_reply({"code": 500}, status=500),
        reset_mid_body({**KINDS[0].good, "padding": "p" * 1000}, sent=300),
        json_reply(b'{"code": 0, "data": [1,,]}'),
        json_reply({**KINDS[0].good, "padding": "p" * LIMIT}),
        _html(502),
        good,
    ]

    async def polls(n: int) -> None:
        for i in range(n):
            server.default = cycle[i % len(cycle)]
            await h.poll()
        server.default = good
        assert await h.poll()
        await asyncio.sleep(0.05)  # let closed transports finish closing

    with structlog.testing.capture_logs():
        await polls(60)  # warm up: pools, caches, lazily created label children
    files = _open_files()
    tracemalloc.start()
    try:
        gc.collect()  # failed polls leave exception/traceback cycles for the collector
        before = tracemalloc.take_snapshot()
        with structlog.testing.capture_logs():
            await polls(300)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # What the daemon keeps: allocations by watcher and the HTTP client, not the test's own
    # records (the fault server's request list, captured log output).
    mine = [tracemalloc.Filter(True, f"*/{lib}/*") for lib in ("watcher", "aiohttp", "asyncio")]
    diffs = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    grown = sum(s.size_diff for s in diffs)
    assert _open_files() <= files + 2
    assert grown < 512 * 1024, f"{grown} bytes more after 300 polls"
    record(
        "upstream",
        "300 polls cycling 500, reset, malformed, over the cap, HTML, good",
        {"open_files_delta": _open_files() - files, "python_heap_delta_bytes": grown},
    )
