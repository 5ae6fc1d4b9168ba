"""Mega Coupon push: one CoinW private futures WebSocket per ``coinw_mega_coupon`` source.

The connection logs in, subscribes to ``assets_ag`` and pings; each push updates the pushed
coupon's series at once (the other coupons of its status stay), asks for a rule evaluation and
for a REST read of the coupon's status through the key's limiter (the subscription shares the
key's 1 request / 2 s budget: only the ``sub`` request and the REST reads take its slots).
A drop, a missed pong, a refused login or subscription, or ``bad_frame_limit`` bad frames in a
row end the connection; it is made again after an exponential backoff with jitter
(``min_backoff`` doubling to ``max_backoff``). The login frame carries the secret: it is sent,
never logged, and upstream text is redacted before it reaches a log line.

Upstream facts and their confidence: docs/upstream-apis.md.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import aiohttp
import structlog

from watcher.clock import Clock
from watcher.errors import PushFrameError
from watcher.metrics import WatcherMetrics
from watcher.sources.base import Source
from watcher.sources.coinw_coupon import CouponSource
from watcher.sources.coinw_push_apply import merge_pushed
from watcher.sources.coinw_push_frames import (
    PING,
    SUBSCRIBE,
    Frame,
    login_frame,
    parse_frame,
)
from watcher.sources.redact import Redactor
from watcher.store import SeriesStore
from watcher.waits import cancel_and_wait

log = structlog.get_logger()

T = TypeVar("T")
OnPush = Callable[[], Awaitable[None]]
#: Bad frames logged one by one per connection; past this they are only counted.
MAX_BAD_FRAME_LOGS = 10


class Backoff:
    """Waits before a reconnect: ``low * 2**n`` capped at ``high``, drawn from its upper half."""

    def __init__(self, low: float, high: float, rng: random.Random | None = None) -> None:
        self.low, self.high = low, high
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The next wait (each one about twice the last, until ``high``)."""
        ceiling = min(self.high, self.low * 2.0**self.attempt)
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """A connection came up: the next drop waits the shortest time again."""
        self.attempt = 0


class _Ended(Exception):  # noqa: N818 (a control-flow signal inside this module, not an error)
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class PushClient:
    """The WebSocket of one coupon source: connect, log in, subscribe, ping, apply pushes."""

    def __init__(
        self,
        source: CouponSource,
        session: aiohttp.ClientSession,
        store: SeriesStore,
        metrics: WatcherMetrics,
        clock: Clock,
        on_push: OnPush,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self._cfg = source.config.push
        self._name = source.config.name
        self._session = session
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._on_push = on_push
        self.backoff = Backoff(self._cfg.min_backoff, self._cfg.max_backoff, rng)
        self._last_pong = 0.0
        self._bad_in_row = 0
        self._bad_logged = 0
        self._wake = asyncio.Event()
        self._refresh_wake = asyncio.Event()
        #: statuses to read again over REST (at most one per status, so bounded)
        self._refresh: set[str] = set()
        # Upstream text is cleaned of the source's secrets and of a separate passphrase.
        passphrase = self._cfg.passphrase
        self._redact = Redactor([passphrase.get()] if passphrase is not None else [])
        metrics.init_push(self._name)

    async def run(self) -> None:
        """Keep a connection up forever; cancel to stop (the socket is closed on the way out)."""
        workers = [
            asyncio.create_task(self._evaluate_loop(), name=f"push-evaluate:{self._name}"),
            asyncio.create_task(self._refresh_loop(), name=f"push-refresh:{self._name}"),
        ]
        try:
            while True:
                ended = await self._connection()
                self._set_connected(False)
                self._metrics.source_push_reconnects.labels(
                    source=self._name, reason=ended.reason
                ).inc()
                wait = self.backoff.next()
                log.warning(
                    "source.push_disconnected",
                    source=self._name,
                    reason=ended.reason,
                    error=ended.detail,
                    retry_in_seconds=round(wait, 3),
                )
                await self._clock.sleep(wait)
        finally:
            self._set_connected(False)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _clean(self, text: str) -> str:
        """Upstream ``text`` fit for a log line: no credential of this source in it."""
        return self._redact.clean(self.source.clean(text))

    def _set_connected(self, up: bool) -> None:
        self._metrics.source_push_connected.labels(source=self._name).set(1 if up else 0)

    # -- one connection -----------------------------------------------------------------------

    async def _connection(self) -> _Ended:
        cfg = self._cfg
        try:
            ws = await self._within(
                self.source.config.timeout,
                self._session.ws_connect(
                    cfg.url,
                    max_msg_size=cfg.max_frame_size,
                    autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
                ),
                "connect_failed",
            )
        except _Ended as ended:
            return ended
        except (aiohttp.ClientError, OSError) as exc:
            return _Ended("connect_failed", self._clean(str(exc) or type(exc).__name__))
        self._bad_in_row = self._bad_logged = 0
        try:
            await self._login(ws)
            self._set_connected(True)
            self.backoff.reset()
            log.info("source.push_connected", source=self._name)
            return await self._first_to_end(self._read(ws), self._heartbeat(ws))
        except _Ended as ended:
            return ended
        except (aiohttp.ClientError, OSError) as exc:
            return _Ended("dropped", self._clean(str(exc) or type(exc).__name__))
        finally:
            await ws.close()

    async def _login(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        cfg, scfg = self._cfg, self.source.config
        secret = scfg.secret_key.get()
        passphrase = cfg.passphrase.get() if cfg.passphrase is not None else secret
        await ws.send_str(login_frame(cfg.login, scfg.api_key.get(), secret, passphrase))
        answer = await self._expect(ws, "login", "login_failed")
        if not answer.ok:
            raise _Ended("login_failed", self._clean(answer.error))
        await self.source.limiter.acquire()  # the subscription shares the key's request budget
        await ws.send_str(SUBSCRIBE)
        answer = await self._expect(ws, "subscribe", "subscribe_failed")
        if not answer.ok:
            raise _Ended("subscribe_failed", self._clean(answer.error))

    async def _expect(self, ws: aiohttp.ClientWebSocketResponse, kind: str, reason: str) -> Frame:
        """The next answer of ``kind`` within the source's ``timeout`` (pushes are applied)."""
        deadline = self._clock.monotonic() + self.source.config.timeout
        while True:
            left = deadline - self._clock.monotonic()
            if left <= 0:
                raise _Ended(reason, f"no {kind} answer within the source's timeout")
            frame = await self._within(left, self._next_frame(ws, reason), reason)
            if frame is not None and frame.kind == kind:
                return frame

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> _Ended:
        while True:
            await self._next_frame(ws, "dropped")

    async def _next_frame(self, ws: aiohttp.ClientWebSocketResponse, reason: str) -> Frame | None:
        """Receive one frame and act on it; None for a bad one (counted, skipped)."""
        msg = await ws.receive()
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            raise _Ended(reason, "the server closed the connection")
        if msg.type == aiohttp.WSMsgType.ERROR:
            exc = msg.data
            if (
                isinstance(exc, aiohttp.WebSocketError)
                and exc.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            ):
                self._count("too_large")
                raise _Ended(
                    "too_large", f"a frame over max_frame_size ({self._cfg.max_frame_size} bytes)"
                )
            raise _Ended("dropped", self._clean(str(exc)))
        if msg.type != aiohttp.WSMsgType.TEXT:
            self._bad(PushFrameError("bad_shape", f"unexpected {msg.type.name.lower()} frame"))
            return None
        try:
            frame = parse_frame(msg.data)
            if frame.kind == "coupon":
                self._apply(frame.coupons)
        except PushFrameError as exc:
            self._bad(exc)
            return None
        self._bad_in_row = 0
        if frame.kind == "pong":
            self._last_pong = self._clock.monotonic()
        self._count(frame.kind if frame.kind in ("pong", "coupon") else "answer")
        return frame

    def _bad(self, exc: PushFrameError) -> None:
        self._count(exc.kind)
        self._bad_in_row += 1
        if self._bad_logged < MAX_BAD_FRAME_LOGS:  # a stream of garbage must not flood the log
            self._bad_logged += 1
            log.warning(
                "source.push_bad_frame",
                source=self._name,
                kind=exc.kind,
                error=self._clean(str(exc)),
            )
        if self._bad_in_row >= self._cfg.bad_frame_limit:
            self._bad_in_row = 0
            raise _Ended("bad_frames", f"{self._cfg.bad_frame_limit} bad frames in a row")

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> _Ended:
        cfg = self._cfg
        while True:
            await self._clock.sleep(cfg.ping_interval - cfg.pong_timeout)
            sent = self._clock.monotonic()
            await ws.send_str(PING)
            await self._clock.sleep(cfg.pong_timeout)
            if self._last_pong < sent:
                raise _Ended("missed_pong", f"no pong within {cfg.pong_timeout:g}s")

    def _count(self, kind: str) -> None:
        self._metrics.source_push_messages.labels(source=self._name, kind=kind).inc()

    # -- pushes -------------------------------------------------------------------------------

    def _apply(self, rows: Iterable[Any]) -> None:
        """Put each pushed coupon into its status group now; queue the evaluation and refresh."""
        current = {key: series for src, key, series, _ in self._store.groups() if src == self._name}
        try:
            groups = merge_pushed(self.source, current, rows)
        except ValueError as exc:
            raise PushFrameError("invalid_coupon", str(exc)) from None
        self._refresh.update(groups)
        try:
            self._store.put_groups(self._name, groups, self._clock.time())
        except sqlite3.Error as exc:  # the series are in memory already; only durability lost
            self._metrics.state_write_errors.labels(what="series").inc()
            log.error("state.write_failed", what="series", source=self._name, error=str(exc))
        self._wake.set()
        self._refresh_wake.set()

    async def _evaluate_loop(self) -> None:
        """Evaluate the rules right after each push (never behind a REST read)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._safely(self._on_push())

    async def _refresh_loop(self) -> None:
        """Read each pushed status again over REST, one at a time, through the key's limiter."""
        while True:
            await self._refresh_wake.wait()
            self._refresh_wake.clear()
            while self._refresh:
                status = min(self._refresh)
                self._refresh.discard(status)
                await self._safely(self._refresh_one(status))

    async def _refresh_one(self, status: str) -> None:
        result = await self.source.refresh(status)
        for err in (*result.retried, *result.errors):
            self._metrics.source_errors.labels(source=self._name, reason=err.reason).inc()
        if not result.groups:  # failed, or it may predate a push that came meanwhile
            return
        try:
            self._store.put_groups(self._name, result.groups, self._clock.time())
        except sqlite3.Error as exc:
            self._metrics.state_write_errors.labels(what="series").inc()
            log.error("state.write_failed", what="series", source=self._name, error=str(exc))
        await self._on_push()

    async def _safely(self, call: Awaitable[None]) -> None:
        try:
            await call
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("source.on_push_failed", source=self._name)

    # -- time ---------------------------------------------------------------------------------

    async def _within(self, seconds: float, call: Awaitable[T], reason: str) -> T:
        """``call``'s result, or ``_Ended(reason)`` after ``seconds`` of the injected clock."""
        task = asyncio.ensure_future(call)
        timer = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled from outside: take both down with us
            await cancel_and_wait(task, timer)
            raise
        if task in done:
            await cancel_and_wait(timer)
            return task.result()
        await cancel_and_wait(task)
        raise _Ended(reason, f"no answer within {seconds:g}s")

    async def _first_to_end(self, *calls: Awaitable[_Ended]) -> _Ended:
        tasks = [asyncio.ensure_future(c) for c in calls]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(*tasks)
        return done.pop().result()


def push_loop(
    source: Source,
    session: aiohttp.ClientSession,
    store: SeriesStore,
    metrics: WatcherMetrics,
    clock: Clock,
    on_push: OnPush,
) -> Callable[[], Awaitable[None]] | None:
    """The connection loop of ``source`` when it has push enabled, else None (nothing opened)."""
    if not isinstance(source, CouponSource) or not source.config.push.enabled:
        metrics.forget_push(source.config.name)
        return None
    return PushClient(source, session, store, metrics, clock, on_push).run
