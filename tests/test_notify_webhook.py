"""Webhook payload version 4, auth, and the routing pieces it exposes (groupKey)."""

from __future__ import annotations

from pathlib import Path

from tests.notify_support import T0, Sink, coupon_alert, deliver, dispatching, make_config, serve
from watcher.clock import FakeClock
from watcher.config import HttpConfig, ReceiverConfig, RouteConfig, Secret, WebhookConfig
from watcher.matchers import parse_matcher
from watcher.notify.data import NotificationData
from watcher.notify.router import build_routes
from watcher.notify.webhook import webhook_payload


async def test_webhook_payload_is_version_4_field_for_field_with_bearer_auth(
    tmp_path: Path,
) -> None:
    """The sink receives Alertmanager's v4 body, the bearer token, and a zero endsAt."""
    async with serve(Sink()) as sink:
        receiver = ReceiverConfig(
            name="hook",
            webhook_configs=(
                WebhookConfig(
                    url=Secret(f"{sink.url}/alerts"), http=HttpConfig(bearer_token=Secret("tok"))
                ),
            ),
        )
        route = RouteConfig(receiver="hook", group_by=("alertname",), group_wait=0)
        clock = FakeClock(T0)
        async with dispatching(make_config([receiver], route), tmp_path / "s.db", clock) as d:
            await deliver(d, clock, [coupon_alert("42")], 1)
    expected = {
        "receiver": "hook",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "MegaCouponExpiringSoon",
                    "source": "coinw-main",
                    "severity": "warning",
                    "coupon_id": "42",
                },
                "annotations": {
                    "summary": "Coupon 42 expires soon",
                    "description": "Less than 2 days left",
                    "runbook_url": "https://runbooks.example/coupon",
                },
                "startsAt": "2023-11-14T22:13:20Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://watcher:9746/",
                "fingerprint": coupon_alert("42").fingerprint,
            }
        ],
        "groupLabels": {"alertname": "MegaCouponExpiringSoon"},
        "commonLabels": {
            "alertname": "MegaCouponExpiringSoon",
            "coupon_id": "42",
            "severity": "warning",
            "source": "coinw-main",
        },
        "commonAnnotations": {
            "description": "Less than 2 days left",
            "runbook_url": "https://runbooks.example/coupon",
            "summary": "Coupon 42 expires soon",
        },
        "externalURL": "http://watcher:9746",
        "version": "4",
        "groupKey": '{}:{alertname="MegaCouponExpiringSoon"}',
        "truncatedAlerts": 0,
    }
    assert [expected] == sink.accepted
    assert ["Bearer tok"] == sink.auth


def test_max_alerts_truncates_and_counts_the_rest() -> None:
    """max_alerts keeps the first N alerts and reports the others in truncatedAlerts."""
    alerts = tuple(coupon_alert(str(i)) for i in range(5))
    data = NotificationData("hook", "{}:{}", {}, alerts, "", T0)
    body = webhook_payload(data, max_alerts=2)
    assert (2, 3) == (len(body["alerts"]), body["truncatedAlerts"])
    assert {
        "alertname": "MegaCouponExpiringSoon",
        "severity": "warning",
        "source": "coinw-main",
    } == body["commonLabels"]


def test_max_alerts_common_labels_and_status_are_over_the_alerts_sent() -> None:
    """As Alertmanager: commonLabels, commonAnnotations and status describe the sent alerts."""
    sent = [coupon_alert(str(i), severity="critical", ends=T0 - 1) for i in range(2)]
    rest = [coupon_alert(str(i), severity="warning") for i in range(2, 5)]
    data = NotificationData("hook", "{}:{}", {}, (*sent, *rest), "", T0)
    body = webhook_payload(data, max_alerts=2)
    assert ("resolved", "critical", 3) == (
        body["status"],
        body["commonLabels"]["severity"],
        body["truncatedAlerts"],
    )


def test_resolved_alert_shows_its_end_time() -> None:
    """A resolved alert carries status resolved and its real endsAt."""
    data = NotificationData("hook", "k", {}, (coupon_alert(ends=T0 + 60),), "", T0 + 120)
    body = webhook_payload(data)
    assert ("resolved", "resolved", "2023-11-14T22:14:20Z") == (
        body["status"],
        body["alerts"][0]["status"],
        body["alerts"][0]["endsAt"],
    )


def test_group_keys_follow_alertmanager_format() -> None:
    """Nested routes chain sorted matchers; group labels render like LabelSet.String()."""
    root = build_routes(
        RouteConfig(
            receiver="a",
            group_by=("source", "alertname"),
            routes=(
                RouteConfig(
                    receiver="b",
                    group_by=None,
                    matchers=(parse_matcher('team="growth"'), parse_matcher('severity=~"warn.*"')),
                ),
            ),
        )
    )
    labels = {"alertname": "X", "source": "s", "team": "growth", "severity": "warning"}
    [child] = root.match(labels)
    assert (
        '{}/{severity=~"warn.*",team="growth"}:'
        '{alertname="X", severity="warning", source="s", team="growth"}'
    ) == child.group_key(child.group_labels(labels))
    assert '{}:{alertname="X", source="s"}' == root.group_key(root.group_labels(labels))


def test_first_matching_child_wins_unless_continue() -> None:
    """Without continue only the first matching child gets the alert; none matching → parent."""
    sev = parse_matcher('severity="warning"')
    root = build_routes(
        RouteConfig(
            receiver="root",
            routes=(
                RouteConfig(receiver="first", matchers=(sev,)),
                RouteConfig(receiver="second", matchers=(sev,)),
            ),
        )
    )
    assert ["first"] == [r.config.receiver for r in root.match({"severity": "warning"})]
    assert ["root"] == [r.config.receiver for r in root.match({"severity": "info"})]
