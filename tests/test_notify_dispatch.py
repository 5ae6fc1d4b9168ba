"""The dispatcher end to end: local sinks, a fake clock, a real SQLite file."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from tests.notify_support import T0, Sink, coupon_alert, deliver, dispatcher, make_config, serve
from watcher.clock import FakeClock
from watcher.config import (
    Config,
    ConsoleConfig,
    InhibitRule,
    ReceiverConfig,
    RouteConfig,
    Secret,
    SlackConfig,
    WebhookConfig,
)
from watcher.matchers import parse_matcher
from watcher.metrics import WatcherMetrics
from watcher.notify import DeliveryPolicy, Silence
from watcher.retry import set_testing

ROUTE = RouteConfig(
    receiver="oncall",
    group_by=("alertname", "source"),
    group_wait=10,
    group_interval=60,
    repeat_interval=4 * 3600,
)


@pytest.fixture(autouse=True)
def _real_backoff() -> Iterator[None]:
    """Backoff waits as in production: every wait goes through the FakeClock, so tests still
    take no time, and they can assert the waits themselves (Retry-After, outbox backoff)."""
    set_testing(False)
    yield
    set_testing(True)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with serve(Sink()) as s:
        yield s


def slack_config(sink: Sink, **kw: Any) -> Config:
    receiver = ReceiverConfig(
        name="oncall",
        slack_configs=(
            SlackConfig(
                api_url=Secret(f"{sink.url}/services/T000/B000/XXSECRETXX"),
                channel="#oncall",
                send_resolved=True,
            ),
        ),
    )
    return make_config([receiver], kw.pop("route", ROUTE), **kw)


def counter(metrics: WatcherMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_coupon_alert_pages_once_survives_errors_and_restart_then_resolves(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """Firing → one Slack POST after group_wait despite three 500s; a message queued while Slack
    is down is delivered once by a restarted dispatcher; resolution sends one resolved message."""
    clock = FakeClock(T0)
    metrics = WatcherMetrics(CollectorRegistry())
    config = slack_config(sink)
    d = dispatcher(config, tmp_path / "state.db", session, clock, metrics=metrics)
    sink.statuses = [500, 500, 500]

    await d.send([coupon_alert("42")], clock.time())
    await d.tick()
    assert [] == sink.requests  # group_wait has not passed
    clock.advance(10)
    await d.send([coupon_alert("42")], clock.time())
    await d.tick()
    assert 4 == len(sink.requests)
    assert 1 == len(sink.accepted)
    first = sink.accepted[0]
    assert "#oncall" == first["channel"]
    assert (
        "[FIRING:1] MegaCouponExpiringSoon coinw-main (42 warning)"
        == first["attachments"][0]["title"]
    )
    assert 1.0 == counter(
        metrics, "watcher_notifications_total", receiver="oncall", integration="slack"
    )
    assert 3.0 == counter(
        metrics, "watcher_notifications_failed_total", receiver="oncall", integration="slack"
    )

    # The engine keeps re-sending; nothing changed, so nothing is sent.
    for _ in range(5):
        clock.advance(60)
        await d.send([coupon_alert("42")], clock.time())
        await d.tick()
    assert 1 == len(sink.accepted)

    # A second coupon joins the group while Slack is down: queued, not delivered.
    sink.down = True
    both = [coupon_alert("42"), coupon_alert("43", starts=clock.time())]
    await d.send(both, clock.time())
    clock.advance(60)
    await d.send(both, clock.time())
    await d.tick()
    assert 1 == len(sink.accepted)
    assert 1.0 == metrics.registry.get_sample_value("watcher_notification_queue_length")

    # "Restart": a new dispatcher on the same file; Slack comes back.
    sink.down = False
    clock.advance(1)
    d2 = dispatcher(config, tmp_path / "state.db", session, clock)
    await d2.send(both, clock.time())
    await d2.tick()
    clock.advance(DeliveryPolicy().outbox_maximum + 5)
    for _ in range(3):
        await d2.send(both, clock.time())
        await d2.tick()
        clock.advance(60)
    assert 2 == len(sink.accepted)
    assert (
        "[FIRING:2] MegaCouponExpiringSoon coinw-main (warning)"
        == sink.accepted[1]["attachments"][0]["title"]
    )

    # Both resolve: one resolved message, carrying the value at resolution.
    ended = clock.time()
    resolved = [
        coupon_alert("42", ends=ended, value=0.0),
        coupon_alert("43", ends=ended, value=1.25),
    ]
    for _ in range(16):  # the engine re-sends resolved alerts for 15 minutes
        await d2.send(resolved, clock.time())
        await d2.tick()
        clock.advance(60)
    assert 3 == len(sink.accepted)
    last = sink.accepted[2]["attachments"][0]
    assert "[RESOLVED] MegaCouponExpiringSoon coinw-main (warning)" == last["title"]
    assert "good" == last["color"]
    assert "*Value at resolution:* 1.25" in last["text"]


async def test_slack_default_message_has_summary_description_runbook_labels_and_colour(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """The default Slack text shows summary, severity, description, value, runbook and labels."""
    clock = FakeClock(T0)
    d = dispatcher(slack_config(sink), tmp_path / "s.db", session, clock)
    await deliver(d, clock, [coupon_alert("42", severity="critical")], 10)
    attachment = sink.accepted[0]["attachments"][0]
    expected = "\n".join(
        [
            "*Alert:* Coupon 42 expires soon - `critical`",
            "*Description:* Less than 2 days left",
            "*Value:* 3.5",
            "*Runbook:* <https://runbooks.example/coupon|:notebook:>",
            "*Details:*",
            " • *alertname:* `MegaCouponExpiringSoon`",
            " • *coupon_id:* `42`",
            " • *severity:* `critical`",
            " • *source:* `coinw-main`",
        ]
    )
    assert expected == attachment["text"]
    assert "danger" == attachment["color"]
    assert "http://watcher:9746/#/alerts?receiver=oncall" == attachment["title_link"]


async def test_slack_title_and_text_templates_override_the_default(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """title/text templates expand .Status, .CommonLabels.x, .CommonAnnotations.x and len."""
    receiver = ReceiverConfig(
        name="oncall",
        slack_configs=(
            SlackConfig(
                api_url=Secret(f"{sink.url}/hook"),
                title="{{ .Status | toUpper }} {{ .CommonLabels.alertname }} ({{ len .Alerts.Firing }})",
                text="{{ .CommonAnnotations.summary }} via {{ .Receiver }}",
            ),
        ),
    )
    clock = FakeClock(T0)
    d = dispatcher(make_config([receiver], ROUTE), tmp_path / "s.db", session, clock)
    await deliver(d, clock, [coupon_alert("42")], 10)
    attachment = sink.accepted[0]["attachments"][0]
    assert "FIRING MegaCouponExpiringSoon (1)" == attachment["title"]
    assert "Coupon 42 expires soon via oncall" == attachment["text"]


async def test_slack_429_retry_after_is_honoured(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """A Slack 429 with Retry-After: 7 makes the next attempt wait exactly 7 seconds."""
    sink.statuses = [429]
    sink.headers = {"Retry-After": "7"}
    clock = FakeClock(T0)
    sink.clock = clock
    d = dispatcher(slack_config(sink), tmp_path / "s.db", session, clock)
    await deliver(d, clock, [coupon_alert()], 10)
    assert [T0 + 10, T0 + 17] == [r["at"] for r in sink.requests]
    assert 1 == len(sink.accepted)


async def test_long_retry_after_leaves_the_message_queued_until_then(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """A Retry-After longer than the in-call cap is waited out by the outbox, not by sleeping."""
    sink.statuses = [429]
    sink.headers = {"Retry-After": "600"}
    clock = FakeClock(T0)
    d = dispatcher(slack_config(sink), tmp_path / "s.db", session, clock)
    await deliver(d, clock, [coupon_alert()], 10)
    assert ([], 1) == (sink.accepted, len(d.queued()))
    for _ in range(9):
        clock.advance(65)
        await d.send([coupon_alert()], clock.time())
        await d.tick()
    assert [] == sink.accepted  # 585 s after the 429
    clock.advance(15)
    await d.tick()
    assert (1, 0) == (len(sink.accepted), len(d.queued()))


async def test_repeat_interval_resends_an_unchanged_group(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """An unchanged firing group is re-sent once repeat_interval has passed, not before."""
    route = replace(ROUTE, group_by=("alertname",), repeat_interval=600)
    clock = FakeClock(T0)
    d = dispatcher(slack_config(sink, route=route), tmp_path / "s.db", session, clock)
    for _ in range(12):  # 0s .. 660s
        await d.send([coupon_alert()], clock.time())
        await d.tick()
        clock.advance(60)
    # first sent at the tick at 60 s (group_wait 10 s), again at 660 s
    assert 2 == len(sink.accepted)


async def test_send_resolved_false_sends_no_resolved_message(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """With send_resolved false the resolution is logged but never sent."""
    receiver = ReceiverConfig(
        name="oncall",
        slack_configs=(SlackConfig(api_url=Secret(f"{sink.url}/hook"), send_resolved=False),),
    )
    clock = FakeClock(T0)
    d = dispatcher(make_config([receiver], ROUTE), tmp_path / "s.db", session, clock)
    await deliver(d, clock, [coupon_alert()], 10)
    for _ in range(5):
        clock.advance(60)
        await d.send([coupon_alert(ends=T0 + 70)], clock.time())
        await d.tick()
    assert ["firing"] == [_status(b) for b in sink.accepted]


def _status(slack_body: dict[str, Any]) -> str:
    title = str(slack_body["attachments"][0]["title"])
    return "firing" if title.startswith("[FIRING") else "resolved"


async def test_silenced_alert_is_evaluated_but_not_delivered(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """An active silence keeps the alert out of notifications; the API lists it suppressed."""
    clock = FakeClock(T0)
    d = dispatcher(slack_config(sink), tmp_path / "s.db", session, clock)
    sid = d.put_silence(Silence((parse_matcher('coupon_id="42"'),), T0, T0 + 3600, "me", "known"))
    await deliver(d, clock, [coupon_alert("42")], 10)
    assert [] == sink.requests
    [status] = d.alerts()
    assert ("suppressed", (sid,)) == (status.state, status.silenced_by)


async def test_inhibition_mutes_a_sources_other_alerts_while_it_is_down(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """SourceDown inhibits the same source's other alerts; only SourceDown is sent."""
    rule = InhibitRule(
        source_matchers=(parse_matcher('alertname="SourceDown"'),),
        target_matchers=(parse_matcher('alertname!="SourceDown"'),),
        equal=("source",),
    )
    clock = FakeClock(T0)
    d = dispatcher(slack_config(sink, inhibit_rules=(rule,)), tmp_path / "s.db", session, clock)
    down = coupon_alert()
    down = type(down)(
        labels={"alertname": "SourceDown", "source": "coinw-main"},
        annotations={},
        starts_at=T0,
        ends_at=None,
        value=0,
    )
    await deliver(d, clock, [down, coupon_alert("42")], 10)
    titles = sorted(b["attachments"][0]["title"] for b in sink.accepted)
    assert ["[FIRING:1] SourceDown coinw-main "] == titles  # Alertmanager's trailing space


async def test_continue_and_nested_routes_reach_every_matching_receiver(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """A continue route and the next matching sibling both notify; a webhook gets version 4."""
    by_name = RouteConfig(
        receiver="console", group_by=("alertname",), group_wait=0, group_interval=60
    )
    warning = (parse_matcher('severity="warning"'),)
    coinw = (parse_matcher('source="coinw-main"'),)
    routes = (
        replace(by_name, receiver="hook", matchers=warning, continue_=True),
        replace(by_name, matchers=coinw),
    )
    route = replace(by_name, routes=routes)
    out = io.StringIO()
    receivers = [
        ReceiverConfig(name="hook", webhook_configs=(WebhookConfig(url=Secret(f"{sink.url}/h")),)),
        ReceiverConfig(name="console", console_configs=(ConsoleConfig(),)),
    ]
    clock = FakeClock(T0)
    d = dispatcher(make_config(receivers, route), tmp_path / "s.db", session, clock, console=out)
    await deliver(d, clock, [coupon_alert()], 1)
    assert ['{}/{severity="warning"}:{alertname="MegaCouponExpiringSoon"}'] == [
        b["groupKey"] for b in sink.accepted
    ]
    assert out.getvalue().startswith(
        "[FIRING:1] console {alertname=MegaCouponExpiringSoon}\n  firing   MegaCouponExpiringSoon:"
        " Coupon 42 expires soon (value 3.5)"
    )


async def test_reload_keeps_log_so_nothing_is_resent(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """Reloading the same routes does not send the already-notified group again."""
    clock = FakeClock(T0)
    config = slack_config(sink)
    d = dispatcher(config, tmp_path / "s.db", session, clock)
    await deliver(d, clock, [coupon_alert()], 10)
    d.reload(config)
    for _ in range(3):
        clock.advance(60)
        await d.send([coupon_alert()], clock.time())
        await d.tick()
    assert 1 == len(sink.accepted)


async def test_secrets_never_reach_logs(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """Failures are logged without the Slack URL, even for connection errors."""
    receiver = ReceiverConfig(
        name="oncall",
        slack_configs=(
            SlackConfig(
                api_url=Secret("http://127.0.0.1:1/services/XXSECRETXX"), send_resolved=True
            ),
        ),
    )
    clock = FakeClock(T0)
    d = dispatcher(make_config([receiver], ROUTE), tmp_path / "s.db", session, clock)
    with capture_logs() as logs:
        await deliver(d, clock, [coupon_alert()], 10)
    assert any(e["event"] == "notify.failed" for e in logs)
    assert "XXSECRETXX" not in repr(logs)
    assert 1 == len(d.queued())


async def test_run_loop_delivers_and_stops_on_cancel(
    tmp_path: Path, session: aiohttp.ClientSession, sink: Sink
) -> None:
    """run() flushes after group_wait and delivers by itself, once, and ends when cancelled."""
    clock = FakeClock(T0)
    sink.clock = clock
    d = dispatcher(slack_config(sink), tmp_path / "s.db", session, clock)
    task = asyncio.create_task(d.run())
    await d.send([coupon_alert()], clock.time())
    # Fake time moves only while every task waits, so the POST at T0+10 is answered before
    # the test wakes at T0+11.
    await clock.sleep(11)
    assert [T0 + 10] == [r["at"] for r in sink.requests]
    assert 1 == len(sink.accepted)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 1 == len(sink.accepted)
