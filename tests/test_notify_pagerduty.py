"""PagerDuty: events as Alertmanager 0.25's notifier builds them, config, retries, secrets.

The bytes real Alertmanager sends are compared in test_notify_pagerduty_alertmanager.py; these
tests cover what a local Alertmanager cannot show (v1 events go to PagerDuty itself, an event
over 512 KB) and the watcher's own rules (the key never stored, retries, load errors).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.am_support import check_config
from tests.notify_support import T0, Sink, coupon_alert, deliver, dispatching, only_problem, serve
from watcher.clock import FakeClock
from watcher.config import parse_config
from watcher.notify import Dispatcher
from watcher.notify.amconfig import alertmanager_yaml
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.pagerduty import PagerdutyNotifier, pagerduty_event

KEY = "R0UT1NGK3Y-do-not-leak"
GROUP_KEY = '{}:{alertname="MegaCouponExpiringSoon"}'


def _config(tmp_path: Path, entry: str, *, extra: str = "") -> str:
    return (
        f"{extra}route: {{receiver: pd, group_by: [alertname], group_wait: 0s}}\n"
        "receivers:\n  - name: pd\n    pagerduty_configs:\n      - " + entry + "\n"
    )


def _pd(tmp_path: Path, entry: str, **kw: str) -> object:
    cfg = parse_config(_config(tmp_path, entry, **kw), tmp_path / "w.yaml")
    return cfg.receivers[0].pagerduty_configs[0]


def _data(*, resolved: bool = False) -> NotificationData:
    alert = coupon_alert("7", ends=T0 + 60 if resolved else None)
    return NotificationData(
        "pd", GROUP_KEY, {"alertname": alert.name}, (alert,), "http://w:9746", T0 + 120
    )


def test_v2_event_is_keyed_by_the_group_key_hash_and_stored_without_the_routing_key(
    tmp_path: Path,
) -> None:
    """dedup_key = sha256(group key); the outbox payload has no routing_key; deliver adds it."""
    c = _pd(tmp_path, f"{{routing_key: {KEY}, url: 'http://pd.example/v2'}}")
    event = pagerduty_event(c, _data())  # type: ignore[arg-type]
    assert hashlib.sha256(GROUP_KEY.encode()).hexdigest() == event["dedup_key"]
    assert KEY not in json.dumps(event)
    assert ["dedup_key", "event_action", "payload", "client", "client_url"] == list(event)
    assert "trigger" == event["event_action"]
    payload = event["payload"]
    assert ["summary", "source", "severity", "custom_details"] == list(payload)
    assert ("error", "Alertmanager") == (payload["severity"], payload["source"])
    assert "[FIRING:1] MegaCouponExpiringSoon (7 warning coinw-main)" == payload["summary"]
    assert "http://w:9746/#/alerts?receiver=pd" == event["client_url"]
    resolve = pagerduty_event(c, _data(resolved=True))  # type: ignore[arg-type]
    assert ("resolve", event["dedup_key"]) == (resolve["event_action"], resolve["dedup_key"])


def test_v1_service_key_event_has_alertmanagers_v1_fields(tmp_path: Path) -> None:
    """service_key: Events API v1 (incident_key, event_type, null payload, no client on resolve)."""
    c = _pd(tmp_path, "{service_key: sk, details: {a: '{{ .Status }}'}}")
    dedup = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    trigger = pagerduty_event(c, _data())  # type: ignore[arg-type]
    assert [
        "incident_key",
        "event_type",
        "description",
        "event_action",
        "payload",
        "client",
        "client_url",
        "details",
    ] == list(trigger)
    assert (dedup, "trigger", "", None) == (
        trigger["incident_key"],
        trigger["event_type"],
        trigger["event_action"],
        trigger["payload"],
    )
    assert "firing" == trigger["details"]["a"]
    resolve = pagerduty_event(c, _data(resolved=True))  # type: ignore[arg-type]
    assert ["incident_key", "event_type", "description", "event_action", "payload", "details"] == (
        list(resolve)
    )
    assert "resolve" == resolve["event_type"]


def test_an_event_over_512kb_is_sent_without_its_custom_details(tmp_path: Path) -> None:
    """Alertmanager replaces custom_details with its notice past 512 KB; the rest stays."""
    c = _pd(tmp_path, "{routing_key: k, details: {big: '{{ .CommonAnnotations.big }}'}}")
    data = _data()
    alert = data.alerts[0]
    big = type(alert)(
        alert.labels, {**alert.annotations, "big": "x" * 520_000}, alert.starts_at, None, 1.0, ""
    )
    with capture_logs() as logs:
        event = pagerduty_event(c, NotificationData("pd", GROUP_KEY, {}, (big,), "", T0))  # type: ignore[arg-type]
    assert ["pagerduty details"] == [e["field"] for e in logs if e["event"] == "notify.truncated"]
    notice = (
        "Custom details have been removed because the original event exceeds the maximum "
        "size of 512KB"
    )
    assert {"error": notice} == event["payload"]["custom_details"]
    assert len(encode(event)) < 10_000


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{url: 'http://pd.example'}", "pagerduty_configs[0]: missing service or routing key"),
        (
            "{routing_key: k, description: '{{ if }}'}",
            "pagerduty_configs[0].description: template: :1: missing value for if",
        ),
        ("{routing_key: k, routing_key_file: f}", "routing_key: give either routing_key or"),
        ("{routing_key: k, url: 'ftp://x'}", "pagerduty_configs[0].url: expected an http(s) URL"),
        ("{routing_key: k, images: [{src: a, size: 3}]}", "images[0].size: unknown key"),
        ("{routing_key: k, severty: x}", 'severty: unknown key (did you mean "severity"?)'),
    ],
)
def test_config_problems_name_file_line_and_key(tmp_path: Path, entry: str, problem: str) -> None:
    """Each mistake is one problem with the YAML line and the key path."""
    found = only_problem(_config(tmp_path, entry), tmp_path / "w.yaml")
    assert f"{tmp_path / 'w.yaml'}:5 receivers[0]." in found
    assert problem in found


def test_global_url_and_http_config_apply_to_entries_without_their_own(tmp_path: Path) -> None:
    """global.pagerduty_url and global.http_config fill in, as in Alertmanager."""
    extra = (
        "global:\n  pagerduty_url: 'http://pd.example/enqueue'\n"
        "  http_config: {authorization: {credentials: tok}}\n"
    )
    c = _pd(tmp_path, "{routing_key: k}", extra=extra)
    assert "http://pd.example/enqueue" == c.url  # type: ignore[attr-defined]
    assert "tok" == c.http.bearer_token.get()  # type: ignore[attr-defined]


async def _deliver(tmp_path: Path, sink: Sink, *, service_key: bool = False) -> Dispatcher:
    key = "service_key" if service_key else "routing_key"
    text = _config(tmp_path, f"{{{key}: {KEY}, url: '{sink.url}/enqueue'}}")
    config = parse_config(text, tmp_path / "w.yaml")
    clock = FakeClock(T0)
    async with dispatching(config, tmp_path / "w.db", clock) as d:
        await deliver(d, clock, [coupon_alert("1")], 1)
    return d


async def test_5xx_and_429_are_retried_and_the_key_is_sent_only_on_the_wire(tmp_path: Path) -> None:
    """500 and 429 are retried within the delivery; the event arrives once, with its key."""
    async with serve(Sink(statuses=[500, 429])) as sink:
        with capture_logs() as logs:
            await _deliver(tmp_path, sink)
    assert 3 == len(sink.requests)
    assert 1 == len(sink.accepted)
    assert KEY == sink.accepted[0]["routing_key"]
    assert KEY not in repr(logs)
    assert KEY.encode() not in (tmp_path / "w.db").read_bytes()


async def test_a_400_is_not_retried_within_the_delivery(tmp_path: Path) -> None:
    """PagerDuty's 400 (a bad event) is permanent: one request, the row waits in the outbox."""
    async with serve(Sink(statuses=[400])) as sink:
        with capture_logs() as logs:
            d = await _deliver(tmp_path, sink)
    assert 1 == len(sink.requests)
    assert 1 == len(d.queued())
    assert KEY not in repr(logs)
    assert any("pagerduty: HTTP 400" in str(e.get("error")) for e in logs)


async def test_v1_retries_403_as_alertmanager_does(tmp_path: Path) -> None:
    """Events API v1 answers 403 when rate limiting: retried, then delivered."""
    async with serve(Sink(statuses=[403])) as sink:
        await _deliver(tmp_path, sink, service_key=True)
    assert 2 == len(sink.requests)
    assert KEY == sink.accepted[0]["service_key"]


def test_config_original_shows_the_keys_as_secret_and_amtool_loads_it(tmp_path: Path) -> None:
    """/api/v2/status config.original: <secret> for keys, and Alertmanager's loader accepts it."""
    text = _config(
        tmp_path,
        f"{{routing_key: {KEY}, severity: critical, links: [{{href: 'http://x', text: x}}]}}",
    )
    original = alertmanager_yaml(parse_config(text, tmp_path / "w.yaml"))
    assert KEY not in original
    assert "routing_key: <secret>" in original
    (tmp_path / "am.yml").write_text(original)
    code, out = check_config(tmp_path / "am.yml")
    assert 0 == code, out


def test_notifier_name_is_pagerduty(tmp_path: Path) -> None:
    """Metrics and outbox rows call the integration ``pagerduty``, as Alertmanager does."""
    c = _pd(tmp_path, "{routing_key: k}")
    assert "pagerduty" == PagerdutyNotifier(c, None, None).name  # type: ignore[arg-type]


def test_a_templated_routing_key_is_rendered_from_the_alerts(tmp_path: Path) -> None:
    """routing_key: '{{ .CommonLabels.pd_key }}' routes by label, as Alertmanager renders it."""
    c = _pd(tmp_path, "{routing_key: '{{ .CommonLabels.source }}-svc'}")
    event = pagerduty_event(c, _data())  # type: ignore[arg-type]
    assert "coinw-main-svc" == event["routing_key"]
    assert ["routing_key", "dedup_key", "event_action"] == list(event)[:3]


async def test_a_key_that_renders_empty_is_never_sent(tmp_path: Path) -> None:
    """Alertmanager refuses an empty routing key after templating; nothing is posted."""
    async with serve(Sink()) as sink:
        text = _config(
            tmp_path, f"{{routing_key: '{{{{ .CommonLabels.nope }}}}', url: '{sink.url}/e'}}"
        )
        config = parse_config(text, tmp_path / "w.yaml")
        clock = FakeClock(T0)
        async with dispatching(config, tmp_path / "w.db", clock) as d:
            with capture_logs() as logs:
                await deliver(d, clock, [coupon_alert("1")], 1)
    assert [] == sink.requests
    assert any("routing key is empty" in str(e.get("error")) for e in logs)


async def test_send_resolved_false_sends_no_resolve_event(tmp_path: Path) -> None:
    """With send_resolved: false the trigger is sent and the resolve is not."""
    async with serve(Sink()) as sink:
        text = _config(tmp_path, f"{{routing_key: k, url: '{sink.url}/e', send_resolved: false}}")
        config = parse_config(text, tmp_path / "w.yaml")
        clock = FakeClock(T0)
        async with dispatching(config, tmp_path / "w.db", clock) as d:
            await deliver(d, clock, [coupon_alert("1")], 1)
            await d.send([coupon_alert("1", ends=T0 + 2)], T0 + 3)
            clock.advance(600)
            await d.tick()
    assert ["trigger"] == [r["body"]["event_action"] for r in sink.requests]
