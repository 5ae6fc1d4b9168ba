"""Mega Coupon push: the WebSocket client against the simulator, on fake time.

The simulator runs in the test's loop on 127.0.0.1 (port 0) and checks its rate limit and
timestamps on the test's fake clock, so a request sooner than 2 s after another on the key is
refused just as CoinW would refuse it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from tests.aiohttp_mock import CallbackResult, aioresponses
from tests.reliability import record
from tests.simserver import serve
from tests.source_support import coupon_source
from watcher.clock import FakeClock
from watcher.config.model import CoinwCouponConfig, Secret
from watcher.config.push import PushConfig
from watcher.metrics import WatcherMetrics
from watcher.ratelimit import LimiterRegistry
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, SimState, default_coupons
from watcher.sources.coinw_coupon import CouponSource
from watcher.sources.coinw_push import Backoff, PushClient
from watcher.store import SeriesStore

NEW_COUPON = 900000001
COUPON_URL = re.compile(r"^https://api\.coinw\.test/v1/perpum/account/almightyGoldInfo\?type=\d$")


@dataclass
class World:
    clock: FakeClock
    state: SimState
    url: str
    client: PushClient
    store: SeriesStore
    registry: CollectorRegistry
    session: aiohttp.ClientSession
    evaluations: list[float] = field(default_factory=list)

    def sample(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, {"source": "c", **labels})
        return 0.0 if value is None else value

    def connected(self) -> bool:
        """What ``watcher_source_push_connected`` shows: the socket is up and logged in."""
        return 1.0 == self.sample("watcher_source_push_connected")

    def reconnects(self, reason: str) -> float:
        return self.sample("watcher_source_push_reconnects_total", reason=reason)

    def messages(self, kind: str) -> float:
        return self.sample("watcher_source_push_messages_total", kind=kind)

    def coupon_ids(self, status: str) -> set[str]:
        return {
            s.labels["coupon_id"]
            for src, key, series, _ in self.store.groups()
            if src == "c" and key == status
            for s in series
            if "coupon_id" in s.labels
        }

    def count(self, status: str) -> float:
        for src, key, series, _ in self.store.groups():
            if src == "c" and key == status:
                return next(s.value for s in series if s.name == "coinw_mega_coupons")
        return -1.0

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.url + path, json=body) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def until(self, what: str, check: Callable[[], bool], limit: float = 30.0) -> float:
        """Fake seconds until ``check()`` holds (the client runs meanwhile)."""
        started = self.clock.monotonic()
        while not check():
            if self.clock.monotonic() - started > limit:
                msg = f"not {what} within {limit}s of fake time"
                raise AssertionError(msg)
            await self.clock.sleep(0.01)
        return self.clock.monotonic() - started


def push_config(url: str, **overrides: Any) -> PushConfig:
    ws = "ws" + url.removeprefix("http") + "/perpum"
    return replace(PushConfig(enabled=True, url=ws), **overrides)


@asynccontextmanager
async def world(
    secret: str = DEMO_SECRET_KEY, statuses: tuple[str, ...] = ("pending", "unused"), **push: Any
) -> AsyncIterator[World]:
    clock = FakeClock(start=1_750_000_000.0)
    state = SimState(
        coupons=default_coupons(int(clock.time() * 1000)),
        monotonic=clock.monotonic,
        wall=clock.time,
    )
    async with serve(state) as url, aiohttp.ClientSession() as session:
        source = coupon_source(
            session,
            clock,
            url,
            api_key=DEMO_API_KEY,
            secret_key=secret,
            statuses=statuses,
            push=push_config(url, **push),
        )
        store = SeriesStore()
        store.configure("c", 3600.0)
        registry = CollectorRegistry()
        evaluations: list[float] = []

        async def evaluate() -> None:
            evaluations.append(clock.monotonic())

        client = PushClient(
            source, session, store, WatcherMetrics(registry), clock, evaluate, random.Random(7)
        )
        w = World(clock, state, url, client, store, registry, session, evaluations)
        # What a first REST poll left in the store.
        result = await source.poll()
        store.put_groups("c", result.groups, clock.time())
        task = asyncio.create_task(client.run())
        try:
            yield w
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_pushed_coupon_updates_its_series_at_once_and_keeps_the_others() -> None:
    """A coupon created upstream shows in the store as soon as it is pushed, next to the
    coupons of its status the last poll saw; the rules are asked to evaluate right away and
    the status is read again over REST, within the key's budget."""
    async with world() as w:
        await w.until("connected", w.connected)
        before = w.coupon_ids("unused")
        rest_before = w.state.summary()["by_endpoint"]["coupon"]["ok"]
        await w.control("POST", f"/_sim/coupons/{NEW_COUPON}", {"type": 1, "endTime": 1})
        await w.until("pushed", lambda: str(NEW_COUPON) in w.coupon_ids("unused"), 0.5)
        assert before | {str(NEW_COUPON)} == w.coupon_ids("unused")
        assert len(before) + 1 == w.count("unused")
        assert 1.0 == w.messages("coupon")
        await w.until("evaluated", lambda: bool(w.evaluations), 0.5)
        await w.until(
            "refreshed over REST",
            lambda: w.state.summary()["by_endpoint"]["coupon"]["ok"] == rest_before + 1,
            5.0,
        )
        assert 0 == w.state.summary()["rate_limit_violations"]
        assert before | {str(NEW_COUPON)} == w.coupon_ids("unused")


async def test_a_second_push_is_evaluated_at_once_while_a_rest_read_waits() -> None:
    """The REST read a push asks for waits for the key's slot; the next push does not wait
    behind it: its coupon is stored and the rules evaluate at once."""
    async with world() as w:
        await w.until("connected", w.connected)  # the sub just took a slot
        await w.control("POST", f"/_sim/coupons/{NEW_COUPON}", {"type": 1})
        await w.until("first evaluated", lambda: len(w.evaluations) == 1, 0.1)
        await w.control("POST", f"/_sim/coupons/{NEW_COUPON + 1}", {"type": 1})
        await w.until("second evaluated", lambda: len(w.evaluations) == 2, 0.1)
        assert {str(NEW_COUPON), str(NEW_COUPON + 1)} <= w.coupon_ids("unused")
        assert w.client.source.limiter.next_slot_in > 1.0  # the REST read is still waiting
        await w.until("read over REST", lambda: len(w.evaluations) >= 3, 5.0)
        assert {str(NEW_COUPON), str(NEW_COUPON + 1)} <= w.coupon_ids("unused")
        assert 0 == w.state.summary()["rate_limit_violations"]


async def test_a_coupon_that_changes_status_moves_group() -> None:
    """A push saying an unused coupon is now pending moves it; counts follow."""
    async with world() as w:
        await w.until("connected", w.connected)
        unused, pending = w.count("unused"), w.count("pending")
        await w.control("POST", "/_sim/coupons/800000003", {"type": 0})
        await w.until("moved", lambda: "800000003" in w.coupon_ids("pending"), 0.5)
        assert "800000003" not in w.coupon_ids("unused")
        assert (unused - 1, pending + 1) == (w.count("unused"), w.count("pending"))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("drop", "dropped"), ("stall", "missed_pong"), ("huge", "too_large")],
)
async def test_a_broken_connection_is_counted_and_back_within_the_backoff(
    kind: str, reason: str
) -> None:
    """Dropped, silent or oversized: counted by reason, and connected again within the first
    backoff (min_backoff) after the client noticed."""
    async with world(min_backoff=1.0) as w:
        await w.until("connected", w.connected)
        await w.clock.sleep(3.0)  # the key's next request slot is free: no wait for it
        assert {"ok": True, "connections": 1} == await w.control(
            "POST", "/_sim/faults", {"endpoint": "push", "kind": kind}
        )
        # Noticed at once (drop, huge) or when a pong is missed (ping 5 s, pong timeout 5 s).
        noticed = await w.until("noticed", lambda: w.reconnects(reason) == 1.0, 10.5)
        assert not w.connected()
        back = await w.until("connected again", w.connected, 2.0)
        assert back <= 1.0 + 0.05
        assert noticed <= (0.05 if kind != "stall" else 10.05)
        assert 0.0 == w.sample("watcher_source_push_reconnects_total", reason="login_failed")
    record(
        "upstream",
        f"coinw push WebSocket: {kind}",
        {"reason": reason, "noticed_s": round(noticed, 2), "back_s": round(back, 2)},
    )


async def test_a_refused_login_backs_off_exponentially_then_recovers() -> None:
    """Each refused login is counted; the waits double (with jitter) until the login passes."""
    with capture_logs() as logs:
        async with world(min_backoff=1.0, max_backoff=8.0) as w:
            await w.control(
                "POST", "/_sim/faults", {"endpoint": "push", "kind": "login_refused", "count": 3}
            )
            await w.until("connected", w.connected, 30.0)
            assert 3.0 == w.reconnects("login_failed")
    waits = [e["retry_in_seconds"] for e in logs if e["event"] == "source.push_disconnected"]
    assert 3 == len(waits)
    for n, wait in enumerate(waits):
        assert 2.0**n / 2 <= wait <= 2.0**n
    record("upstream", "coinw push WebSocket: login refused x3", {"waits_s": waits})


async def test_a_wrong_secret_is_refused_as_coinw_does_and_never_logged() -> None:
    """The simulator checks the login; the secret sent appears in no log line and no metric."""
    secret = "wrong-secret-value-1234"
    with capture_logs() as logs:
        async with world(secret=secret) as w:
            await w.until("refused twice", lambda: w.reconnects("login_failed") >= 2, 10.0)
            assert not w.connected()
            assert 0 == w.state.summary()["by_endpoint"]["push"].get("login", 0)
            exposition = generate_latest(w.registry).decode()
    assert secret not in json.dumps(logs, default=str)
    assert secret not in exposition
    assert any(e["event"] == "source.push_disconnected" for e in logs)


async def test_bad_frames_are_counted_and_skipped_until_too_many_in_a_row() -> None:
    """Garbage below the limit is counted by kind and the connection stays; at the limit the
    connection is made again."""
    async with world(bad_frame_limit=5) as w:
        await w.until("connected", w.connected)
        await w.control("POST", "/_sim/faults", {"endpoint": "push", "kind": "garbage", "count": 4})
        await w.until("counted", lambda: w.messages("bad_shape") == 2.0, 0.5)
        assert (1.0, 1.0) == (w.messages("not_json"), w.messages("unknown_type"))
        assert w.connected()
        assert 0.0 == w.reconnects("bad_frames")
        # A good frame in between resets the run; then five in a row are too many.
        await w.control("POST", f"/_sim/coupons/{NEW_COUPON}", {"type": 1})
        await w.until("pushed", lambda: str(NEW_COUPON) in w.coupon_ids("unused"), 0.5)
        await w.control("POST", "/_sim/faults", {"endpoint": "push", "kind": "garbage", "count": 5})
        await w.until("reconnected", lambda: w.reconnects("bad_frames") == 1.0, 0.5)
        # the backoff, then the key's next slot: the push's REST refresh waits for one first
        await w.until("connected again", w.connected, 1.0 + 2 * 2.2)
        assert 0 == w.state.summary()["rate_limit_violations"]
    record(
        "upstream",
        "coinw push WebSocket: garbage frames",
        {"counted": True, "reason": "bad_frames"},
    )


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    """Waits fall in the upper half of min * 2**n, capped at max; a reset starts over."""
    backoff = Backoff(1.0, 8.0, random.Random(3))
    waits = [backoff.next() for _ in range(6)]
    for n, wait in enumerate(waits):
        ceiling = min(8.0, 2.0**n)
        assert ceiling / 2 <= wait <= ceiling
    backoff.reset()
    assert backoff.next() <= 1.0


@asynccontextmanager
async def scripted(
    clock: FakeClock, answers: dict[str, str]
) -> AsyncIterator[tuple[str, list[tuple[float, str]]]]:
    """A WebSocket server answering each client ``event`` with ``answers[event]``; it records
    every frame it gets with the fake time it came at."""
    frames: list[tuple[float, str]] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            frames.append((clock.monotonic(), msg.data))
            answer = answers.get(json.loads(msg.data).get("event", ""))
            if answer is not None:
                await ws.send_str(answer)
        return ws

    app = web.Application()
    app.router.add_get("/perpum", handler)
    async with serve(SimState(), app) as url:
        yield url, frames


def client_for(
    url: str, session: aiohttp.ClientSession, clock: FakeClock, **push: Any
) -> tuple[PushClient, CollectorRegistry]:
    cfg = CoinwCouponConfig(
        name="c",
        type="coinw_mega_coupon",
        base_url="http://127.0.0.1:9",
        api_key=Secret("key-abc"),
        secret_key=Secret("secret-xyz"),
        push=push_config(url, **push),
    )
    registry = CollectorRegistry()

    async def evaluate() -> None:
        return None

    source = CouponSource(cfg, session, LimiterRegistry(clock), clock)
    return PushClient(source, session, SeriesStore(), WatcherMetrics(registry), clock, evaluate), (
        registry
    )


OK_ANSWERS = {
    "login": '{"channel": "login", "data": {"result": true}}',
    "sub": '{"channel": "subscribe", "biz": "futures", "type": "assets_ag", "data": {"result": true}}',
    "ping": '{"event": "pong"}',
}


async def test_login_subscribe_and_ping_frames_are_exactly_what_coinw_net_sends() -> None:
    """Login with api_key and the secret as passphrase, then sub assets_ag, then a ping every
    ping_interval."""
    clock = FakeClock()
    async with scripted(clock, OK_ANSWERS) as (url, frames), aiohttp.ClientSession() as session:
        client, _ = client_for(url, session, clock, ping_interval=5.0, pong_timeout=2.0)
        task = asyncio.create_task(client.run())
        while len(frames) < 4:
            await clock.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [
        '{"event": "login", "params": {"api_key": "key-abc", "passphrase": "secret-xyz"}}',
        '{"event": "sub", "params": {"biz": "futures", "type": "assets_ag"}}',
        '{"event": "ping"}',
        '{"event": "ping"}',
    ] == [text for _, text in frames[:4]]
    assert 5.0 == pytest.approx(frames[3][0] - frames[2][0], abs=0.02)


async def test_the_login_frame_follows_the_configured_template() -> None:
    """An unconfirmed upstream format is configurable: placeholders become the credentials."""
    clock = FakeClock()
    template = json.dumps({"event": "login", "args": ["<api_key>", "<passphrase>"], "v": 2})
    answers = {**OK_ANSWERS}
    async with scripted(clock, answers) as (url, frames), aiohttp.ClientSession() as session:
        client, _ = client_for(url, session, clock, login=template, passphrase=Secret("pp-1"))
        task = asyncio.create_task(client.run())
        while len(frames) < 2:
            await clock.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert '{"event": "login", "args": ["key-abc", "pp-1"], "v": 2}' == frames[0][1]


async def test_a_server_that_never_answers_the_login_is_a_failed_login() -> None:
    """No login answer within the source's timeout: counted as login_failed, tried again."""
    clock = FakeClock()
    async with scripted(clock, {}) as (url, frames), aiohttp.ClientSession() as session:
        client, registry = client_for(url, session, clock)
        task = asyncio.create_task(client.run())
        while (
            registry.get_sample_value(
                "watcher_source_push_reconnects_total", {"source": "c", "reason": "login_failed"}
            )
            or 0
        ) < 2:
            await clock.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert all(json.loads(text)["event"] == "login" for _, text in frames)
    assert 0.0 == registry.get_sample_value("watcher_source_push_connected", {"source": "c"})


async def test_a_rest_answer_in_flight_during_a_push_does_not_undo_it() -> None:
    """A poll answer that left upstream before a push arrived is not stored over the pushed
    coupon (the push has asked for another read of the status); other statuses are kept."""
    clock = FakeClock()
    async with aiohttp.ClientSession() as session:
        source = coupon_source(
            session,
            clock,
            "https://api.coinw.test",
            api_key="k",
            secret_key="s",
            statuses=("pending", "unused"),
        )

        async def stale_answer(url: Any, **_: Any) -> CallbackResult:
            if "type=1" in str(url):
                source.pushes["unused"] = source.pushes.get("unused", 0) + 1  # a push lands now
            return CallbackResult(payload={"code": 0, "data": [], "msg": ""})

        with aioresponses() as m:
            m.get(COUPON_URL, callback=stale_answer, repeat=True)
            result = await source.poll()
    assert [] == result.errors
    assert ["pending"] == list(result.groups)


async def test_an_upstream_error_quoting_the_credentials_is_redacted() -> None:
    """A refusal that echoes the key, the secret or a separate passphrase logs none of them."""
    clock = FakeClock()
    echo = '{"channel": "login", "data": {"result": false, "errorCode": 6000, "errorMsg": '
    echo += '"bad login key-abc secret-xyz passphrase-789"}}'
    with capture_logs() as logs:
        async with (
            scripted(clock, {"login": echo}) as (url, _),
            aiohttp.ClientSession() as session,
        ):
            client, _ = client_for(url, session, clock, passphrase=Secret("passphrase-789"))
            task = asyncio.create_task(client.run())
            while not any(e["event"] == "source.push_disconnected" for e in logs):
                await clock.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    text = json.dumps(logs, default=str)
    assert "6000 bad login <redacted> <redacted> <redacted>" in text
    for secret in ("key-abc", "secret-xyz", "passphrase-789"):
        assert secret not in text
