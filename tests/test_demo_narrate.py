"""The demo's narration: each change of the daemon's state told once, in a short sentence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from watcher.demo.narrate import Narrator, View

COUPON = {"alertname": "MegaCouponExpiringSoon", "coupon_id": "1", "severity": "warning"}


@dataclass
class Runner:
    polls: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class Alert:
    state: str
    active_at: float
    labels: Mapping[str, str] = field(default_factory=lambda: dict(COUPON))
    alertname: str = "MegaCouponExpiringSoon"
    group: str = "coinw"


def sent(n: float, name: str = "watcher_notifications") -> Metric:
    family = CounterMetricFamily(name, "", labels=["receiver", "integration"])
    family.add_metric(["console", "console"], n)
    return family


def coupons(n: int) -> Metric:
    family = GaugeMetricFamily("coinw_mega_coupon_remaining_amount", "", labels=["source"])
    for _ in range(n):
        family.add_metric(["coinw-demo"], 1.0)
    return family


class Script:
    """A narrator fed views one after another; ``said`` collects its sentences."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.narrator = Narrator(self.said.append, group_wait=10.0)

    def look(
        self,
        now: float,
        *,
        runners: Mapping[str, Runner] | None = None,
        alerts: tuple[Alert, ...] = (),
        families: tuple[Metric, ...] = (),
    ) -> list[str]:
        before = len(self.said)
        view = View(
            now=now,
            runners=runners or {},
            alerts=alerts,
            families=families,
            holds={("coinw", "MegaCouponExpiringSoon"): 60.0},
        )
        self.narrator.observe(view)
        return self.said[before:]


def test_an_alert_is_told_pending_with_its_time_left_then_firing_then_resolved() -> None:
    """Pending says when it fires (for minus time already pending), then firing, then resolved."""
    s = Script()
    pending = Alert("pending", active_at=100.0)
    assert [
        "MegaCouponExpiringSoon{coupon_id=1} pending, fires in 45 s unless it clears"
    ] == s.look(115.0, alerts=(pending,))
    assert [] == s.look(130.0, alerts=(pending,))
    firing = Alert("firing", active_at=100.0)
    assert [
        "MegaCouponExpiringSoon{coupon_id=1} firing; its first notification waits group_wait (10s)"
    ] == s.look(160.0, alerts=(firing,))
    assert ["MegaCouponExpiringSoon{coupon_id=1} resolved"] == s.look(175.0)


def test_a_pending_alert_that_goes_away_is_told_cleared() -> None:
    """An alert that never fired is 'cleared', not 'resolved' (nothing was sent for it)."""
    s = Script()
    s.look(0.0, alerts=(Alert("pending", active_at=0.0),))
    assert ["MegaCouponExpiringSoon{coupon_id=1} cleared"] == s.look(15.0)


def test_first_poll_of_each_source_is_told_with_its_series_count_then_only_changes() -> None:
    """The first poll says how many series; later polls speak only when a source fails or recovers."""
    s = Script()
    runners = {"coinw-demo": Runner(polls=1), "wallet": Runner(polls=1, last_error="auth: 6000")}
    assert [
        "polled coinw-demo: 3 series",
        "polled wallet: failed (auth: 6000); retrying next interval",
    ] == s.look(1.0, runners=runners, families=(coupons(3),))
    runners["coinw-demo"].polls = 2
    assert [] == s.look(16.0, runners=runners)
    runners["coinw-demo"] = Runner(polls=3, last_error="timeout: GET /x")
    runners["wallet"] = Runner(polls=2)
    assert ["poll of coinw-demo failed: timeout: GET /x", "wallet recovered"] == s.look(
        31.0, runners=runners
    )


def test_notifications_sent_and_failed_are_counted_from_the_metrics() -> None:
    """Each growth of watcher_notifications(_failed)_total is told once, with how many."""
    s = Script()
    assert [] == s.look(0.0, families=(sent(0),))
    assert ["3 notifications sent to console (console)"] == s.look(1.0, families=(sent(3),))
    assert [] == s.look(2.0, families=(sent(3),))
    assert ["1 notification sent to console (console)"] == s.look(3.0, families=(sent(4),))
    failed = sent(1, "watcher_notifications_failed")
    assert ["delivery to console (console) failed 1 time; it is retried"] == s.look(
        4.0, families=(sent(4), failed)
    )
