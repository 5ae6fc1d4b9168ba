"""Delivery faults: a real receiver on 127.0.0.1 that fails in scripted ways, in fake time.

Each test runs the dispatcher's own loops (``Dispatcher.run``) on a ``FakeClock``, which moves
only while every task waits, so "the page arrived at T0+10" is exact and "nothing twice" is a
count of requests the receiver answered, never a sleep. Every case is recorded for
tests/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from tests.notify_support import T0, coupon_alert, dispatcher, make_config
from tests.reliability import record
from watcher.alerts import Alert
from watcher.clock import FakeClock
from watcher.config import (
    Config,
    ReceiverConfig,
    RouteConfig,
    Secret,
    SlackConfig,
    StorageConfig,
    WebhookConfig,
)
from watcher.matchers import parse_matcher
from watcher.metrics import WatcherMetrics
from watcher.notify import DeliveryPolicy
from watcher.notify.outbox import Outbox
from watcher.notify.pipeline import Delivery, Endpoint
from watcher.retry import set_testing
from watcher.state import open_db


@pytest.fixture(autouse=True)
def _real_backoff() -> Iterator[None]:
    """Backoff as in production; every wait is on the FakeClock, so it costs no real time."""
    set_testing(False)
    yield
    set_testing(True)


@dataclass
class Receiver:
    """An HTTP receiver on 127.0.0.1 answering from a script, in the clock's time.

    Answers: ``ok``, ``500``, ``429:<seconds>`` (with Retry-After), ``slow:<seconds>`` (then
    200), ``hang`` (never, until the receiver stops). ``down_until`` answers 500 before then.
    """

    clock: FakeClock
    answers: list[str] = field(default_factory=list)
    default: str = "ok"
    down_until: float = 0.0
    requests: list[tuple[float, Any]] = field(default_factory=list)
    accepted: list[tuple[float, Any]] = field(default_factory=list)
    port: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def times(self) -> list[float]:
        """When each request arrived, relative to T0."""
        return [at - T0 for at, _ in self.requests]

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.requests.append((self.clock.time(), body))
        answer = self.answers.pop(0) if self.answers else self.default
        if self.clock.time() < self.down_until:
            answer = "500"
        if answer == "hang":
            await self._release.wait()
            return web.Response(status=500)
        if answer.startswith("slow:"):
            await self.clock.sleep(float(answer.split(":")[1]))
            answer = "ok"
        if answer.startswith("429:"):
            return web.Response(status=429, headers={"Retry-After": answer.split(":")[1]})
        if answer == "500":
            return web.Response(status=500, text="nope")
        self.accepted.append((self.clock.time(), body))
        return web.Response(text="ok")

    async def start(self) -> None:
        """Listen (again) on ``port``, or on a free one the first time."""
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self.handle)
        self._release = asyncio.Event()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[Receiver]:
    r = Receiver(clock)
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def hook(clock: FakeClock) -> AsyncIterator[Receiver]:
    r = Receiver(clock)
    await r.start()
    yield r
    await r.stop()


def timings(receiver: str, **kw: Any) -> RouteConfig:
    return RouteConfig(
        receiver=receiver,
        group_by=("alertname", "coupon_id"),
        group_wait=10,
        group_interval=60,
        repeat_interval=4 * 3600,
        **kw,
    )


def two_receivers(slack: Receiver, hook: Receiver, **kw: Any) -> Config:
    """Critical pages go to Slack; severity=info goes to a webhook (the issue's setup)."""
    route = timings(
        "pager", routes=(timings("info-hook", matchers=(parse_matcher('severity="info"'),)),)
    )
    receivers = [
        ReceiverConfig(
            name="pager",
            slack_configs=(
                SlackConfig(
                    api_url=Secret(slack.url),
                    send_resolved=True,
                    timeout=kw.pop("slack_timeout", 0.0),
                ),
            ),
        ),
        ReceiverConfig(name="info-hook", webhook_configs=(WebhookConfig(url=Secret(hook.url)),)),
    ]
    return make_config(receivers, route, **kw)


class Harness:
    """A dispatcher running its own loops, and an engine re-sending alerts every 15 s."""

    def __init__(
        self, config: Config, path: Path, session: aiohttp.ClientSession, clock: FakeClock
    ) -> None:
        self.clock = clock
        self.metrics = WatcherMetrics(CollectorRegistry())
        self.dispatcher = dispatcher(config, path, session, clock, metrics=self.metrics)
        self.alerts: list[Alert] = []

    async def run_for(self, seconds: float) -> None:
        """Let fake time pass, the engine sending ``alerts`` every 15 s as rules would."""
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            await self.dispatcher.send(self.alerts, self.clock.time())
            await self.clock.sleep(min(15.0, end - self.clock.time()))

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def outcome(h: Harness, **parts: Receiver | float) -> dict[str, Any]:
    """What a receiver saw (requests, messages answered 200, identical messages answered more
    than once) and what is still undelivered."""
    out: dict[str, Any] = {"undelivered": len(h.dispatcher.queued())}
    for name, part in parts.items():
        if isinstance(part, Receiver):
            bodies = [json.dumps(body, sort_keys=True) for _, body in part.accepted]
            out[f"{name}_requests"] = len(part.requests)
            out[f"{name}_accepted"] = len(bodies)
            out[f"{name}_duplicates"] = len(bodies) - len(set(bodies))
        else:
            out[name] = part
    return out


def start(h: Harness) -> asyncio.Task[None]:
    return asyncio.create_task(h.dispatcher.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def paged(
    config: Config,
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    seconds: float,
) -> Harness:
    """A running Harness on ``config`` whose engine sends the CouponGone page for ``seconds``
    of fake time; stopped when returned."""
    h = Harness(config, tmp_path / "s.db", session, clock)
    task = start(h)
    h.alerts = [page("CouponGone")]
    await h.run_for(seconds)
    await stop(task)
    return h


def page(name: str, severity: str = "critical", starts: float = T0) -> Alert:
    a = coupon_alert("42", severity=severity, starts=starts)
    return Alert(
        labels={**a.labels, "alertname": name},
        annotations=a.annotations,
        starts_at=a.starts_at,
        ends_at=None,
        value=a.value,
    )


async def test_hanging_webhook_never_delays_a_slack_page(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """A webhook that never answers: Slack pages still leave exactly at group_wait, the hung
    request is abandoned at the dispatch timeout (60 s) and the webhook gets its message once
    it answers again."""
    hook.default = "hang"
    h = Harness(two_receivers(slack, hook), tmp_path / "s.db", session, clock)
    task = start(h)
    h.alerts = [page("InfoThing", "info"), page("CouponGone")]
    await h.run_for(30)
    h.alerts.append(page("CouponLow", starts=T0 + 30))
    await h.run_for(15)
    hook.default = "ok"
    await h.run_for(120)
    await stop(task)

    assert [10.0, 40.0] == slack.times()  # group_wait after each alert, to the second
    assert 2 == len(slack.accepted)
    assert 10.0 == hook.times()[0]
    assert 1 == len(hook.accepted)  # the hung request got no answer; the retry did
    assert [] == h.dispatcher.queued()
    record(
        "delivery",
        "webhook hangs",
        outcome(h, slack=slack, webhook=hook, slack_late_s=slack.times()[1] - 40.0),
    )


async def test_slow_receiver_within_its_timeout_gets_exactly_one_copy(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """A receiver that takes 3 s to answer is sent one copy (the issue saw two)."""
    slack.answers = ["slow:3"]
    h = await paged(two_receivers(slack, hook), tmp_path, session, clock, 300)
    assert [10.0] == slack.times()
    assert [T0 + 13] == [at for at, _ in slack.accepted]
    assert [] == h.dispatcher.queued()
    record("delivery", "receiver answers in 3 s", outcome(h, slack=slack))


async def test_a_configured_timeout_is_where_a_copy_may_repeat(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """With slack timeout 2s, a 3 s answer is abandoned at 2 s and retried: the documented
    point past which a receiver may see a copy twice."""
    slack.answers = ["slow:3"]
    config = two_receivers(slack, hook, slack_timeout=2.0)
    h = await paged(config, tmp_path, session, clock, 60)
    assert 2 == len(slack.requests)
    assert 12.0 < slack.times()[1] <= 14.0  # after the 2 s timeout and one retry backoff
    assert [] == h.dispatcher.queued()
    record("delivery", "answer slower than its timeout (copy may repeat)", outcome(h, slack=slack))


async def test_500s_then_success_deliver_once(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """Three 500s are retried with backoff inside one delivery; one message arrives."""
    slack.answers = ["500", "500", "500"]
    h = await paged(two_receivers(slack, hook), tmp_path, session, clock, 120)
    assert 4 == len(slack.requests)
    assert 1 == len(slack.accepted)
    failed = h.value("watcher_notifications_failed_total", receiver="pager", integration="slack")
    assert 3.0 == failed
    record("delivery", "HTTP 500 x3", outcome(h, slack=slack))


async def test_429_with_a_long_retry_after_is_waited_out_exactly(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """A 429 with Retry-After: 120 leaves the message queued; it is sent 120 s later, once."""
    slack.answers = ["429:120"]
    h = await paged(two_receivers(slack, hook), tmp_path, session, clock, 300)
    assert [10.0, 130.0] == slack.times()
    assert 1 == len(slack.accepted)
    record("delivery", "HTTP 429 + Retry-After: 120", outcome(h, slack=slack))


async def test_refused_connections_keep_the_page_until_the_receiver_is_back(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """Slack refuses connections for 5 minutes: the page is kept and sent once when it
    listens again; the webhook is not held up meanwhile."""
    await slack.stop()
    h = Harness(two_receivers(slack, hook), tmp_path / "s.db", session, clock)
    task = start(h)
    h.alerts = [page("CouponGone"), page("InfoThing", "info")]
    await h.run_for(300)
    assert [] == slack.requests
    assert [10.0] == hook.times()
    assert 1 == len(h.dispatcher.queued())
    await slack.start()
    await h.run_for(600)
    await stop(task)
    assert 1 == len(slack.accepted)
    assert [] == h.dispatcher.queued()
    record("delivery", "connection refused for 5 min", outcome(h, slack=slack, webhook=hook))


async def test_receiver_down_for_an_hour_loses_no_page_and_the_outbox_stays_bounded(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """Slack answers 500 for an hour while coupons fire and resolve one after another. The
    outbox never holds more than its capacity (5): the oldest resolved messages are dropped
    (an error log and metric), never a firing one; afterwards each group still firing is paged
    exactly once."""
    slack.down_until = T0 + 3600
    config = two_receivers(slack, hook, storage=StorageConfig(notification_queue_capacity=5))
    h = Harness(config, tmp_path / "s.db", session, clock)
    task = start(h)
    sizes = []
    with capture_logs() as logs:
        for n in range(20):  # a new coupon every 3 minutes, the previous one resolves
            now = clock.time()
            resolved = [
                Alert(a.labels, a.annotations, a.starts_at, now, a.value) for a in h.alerts[-1:]
            ]
            h.alerts = [*h.alerts[:-1], *resolved, page(f"Coupon{n}", starts=now)]
            await h.run_for(180)
            sizes.append(len(h.dispatcher.queued()))
        await h.run_for(900)
    await stop(task)

    assert max(sizes) <= 5
    delivered = [body["attachments"][0]["title"] for _, body in slack.accepted]
    assert len(delivered) == len(set(delivered))  # nothing twice
    assert (
        "[FIRING:1] Coupon19 42 (critical coinw-main)" in delivered
    )  # the page still firing arrived
    assert [] == h.dispatcher.queued()
    assert 0 < h.value("watcher_notification_queue_overflows_total")
    dropped = h.value("watcher_notifications_dropped_total", receiver="pager", integration="slack")
    assert 0 < dropped
    assert any(e["event"] == "notify.queue_full" and e["log_level"] == "error" for e in logs)
    record(
        "delivery",
        "receiver down 1 h, outbox capacity 5",
        outcome(h, slack=slack, max_queued=max(sizes), dropped_resolved=dropped),
    )


async def test_sigterm_while_a_slow_request_is_in_flight_sends_no_second_copy(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """Stopping the loops mid-request (SIGTERM) and draining waits for the answer instead of
    sending the message again."""
    slack.answers = ["slow:3"]
    # the request leaves at T0+10 and is answered at T0+13
    h = await paged(two_receivers(slack, hook), tmp_path, session, clock, 11)
    await h.dispatcher.drain(10)
    assert [10.0] == slack.times()
    assert 1 == len(slack.accepted)
    assert [] == h.dispatcher.queued()
    record("delivery", "SIGTERM during a 3 s request", outcome(h, slack=slack))


@dataclass
class Flaky:
    """A deliverer whose first call raises a bug (not a NotifyError), then records."""

    clock: FakeClock
    crashes: int = 0
    sent: list[float] = field(default_factory=list)
    name: str = "flaky"

    async def deliver(self, payload: dict[str, Any], now: float) -> None:
        if self.crashes == 0:
            self.crashes += 1
            raise ZeroDivisionError
        self.sent.append(self.clock.time())


async def test_a_crashing_worker_is_logged_counted_restarted_and_holds_up_no_one(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A bug in one integration crashes its worker: logged, counted in
    watcher_loop_crashes_total{loop="deliver"}, restarted; its message is delivered after the
    backoff and the other target's message goes out at once."""
    db = open_db(str(tmp_path / "s.db"))
    outbox = Outbox(db)
    metrics = WatcherMetrics(CollectorRegistry())
    delivery = Delivery(outbox, clock=clock, metrics=metrics, retry=DeliveryPolicy(jitter=0))
    buggy, fine = Flaky(clock), Flaky(clock, crashes=1)
    delivery.configure({("a", "flaky", 0): Endpoint(buggy), ("b", "flaky", 0): Endpoint(fine)})
    for receiver in ("a", "b"):
        outbox.put(
            f"g|{receiver}",
            receiver=receiver,
            integration="flaky",
            index=0,
            payload={},
            now=T0,
            timeout=10,
            firing=1,
        )
    with capture_logs() as logs:
        task = asyncio.create_task(delivery.run())
        await clock.sleep(30)
        await stop(task)
    assert [T0] == fine.sent
    assert [T0 + 10] == buggy.sent  # the outbox backoff after a failed delivery
    crashes = metrics.registry.get_sample_value("watcher_loop_crashes_total", {"loop": "deliver"})
    assert 1.0 == crashes
    assert ["notify.worker_crashed"] == [e["event"] for e in logs if e["log_level"] == "error"]
    assert 0 == len(outbox)
    record(
        "delivery",
        "integration raises a bug",
        {"crashes": crashes, "sent": len(buggy.sent) + len(fine.sent), "queued": len(outbox)},
    )


def test_a_full_outbox_drops_the_oldest_resolved_rows_never_a_firing_one(
    tmp_path: Path,
) -> None:
    """Past capacity the oldest resolved-only rows go first; firing rows are kept even when
    that leaves the outbox over capacity (reported as the excess)."""
    outbox = Outbox(open_db(str(tmp_path / "s.db")))

    def put(key: str, firing: int) -> None:
        outbox.put(
            key,
            receiver="r",
            integration="slack",
            index=0,
            payload={"k": key},
            now=T0,
            timeout=10,
            firing=firing,
        )

    for key, firing in [("f1", 1), ("r1", 0), ("f2", 2), ("r2", 0), ("r3", 0)]:
        put(key, firing)
    dropped, excess = outbox.evict_over(3)
    assert (["r1", "r2"], 0) == ([r.key for r in dropped], excess)
    put("f3", 1)
    put("f4", 1)
    dropped, excess = outbox.evict_over(3)
    assert (["r3"], 1) == ([r.key for r in dropped], excess)
    assert ["f1", "f2", "f3", "f4"] == [r.key for r in outbox.all()]


async def test_a_hanging_webhook_beside_slack_in_one_receiver_does_not_delay_it(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """One receiver with a Slack and a webhook integration, one group: the webhook hangs, the
    Slack message of the same flush still leaves at group_wait and so does the next group's."""
    hook.default = "hang"
    receiver = ReceiverConfig(
        name="pager",
        slack_configs=(SlackConfig(api_url=Secret(slack.url)),),
        webhook_configs=(WebhookConfig(url=Secret(hook.url)),),
    )
    h = Harness(make_config([receiver], timings("pager")), tmp_path / "s.db", session, clock)
    task = start(h)
    h.alerts = [page("CouponGone")]
    await h.run_for(30)
    h.alerts.append(page("CouponLow", starts=T0 + 30))
    await h.run_for(30)
    await stop(task)
    assert [10.0, 40.0] == slack.times()
    assert 2 == len(slack.accepted)
    record(
        "delivery",
        "webhook hangs beside slack in one receiver (still hanging at the end)",
        outcome(h, slack=slack, webhook=hook),
    )


async def test_a_receiver_added_by_reload_gets_a_worker_while_running(
    tmp_path: Path,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    slack: Receiver,
    hook: Receiver,
) -> None:
    """Reloading a config with a new receiver starts its worker; a removed one's queue goes."""
    only_hook = make_config(
        [ReceiverConfig(name="pager", webhook_configs=(WebhookConfig(url=Secret(hook.url)),))],
        timings("pager"),
    )
    hook.default = "500"
    h = Harness(only_hook, tmp_path / "s.db", session, clock)
    task = start(h)
    h.alerts = [page("CouponGone")]
    await h.run_for(20)
    assert 1 == len(h.dispatcher.queued())  # the webhook keeps failing
    with_slack = make_config(
        [ReceiverConfig(name="pager", slack_configs=(SlackConfig(api_url=Secret(slack.url)),))],
        timings("pager"),
    )
    h.dispatcher.reload(with_slack)  # at T0+20
    h.alerts.append(page("CouponLow", starts=clock.time()))
    await h.run_for(30)
    await stop(task)
    # The new integration is told about the group already firing at once, as Alertmanager
    # does (its notification log has no entry), and about the new group after group_wait.
    assert [
        (T0 + 20, "[FIRING:1] CouponGone 42 (critical coinw-main)"),
        (T0 + 30, "[FIRING:1] CouponLow 42 (critical coinw-main)"),
    ] == [(at, body["attachments"][0]["title"]) for at, body in slack.accepted]
    assert [] == h.dispatcher.queued()
