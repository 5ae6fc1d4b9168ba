"""Alert lifecycle as Prometheus computes it, over snapshots at chosen times, surviving restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from watcher.alerts import Alert
from watcher.metrics import WatcherMetrics
from watcher.rules import RuleGroup, RuleManager, load_rule_files
from watcher.series import Series, Snapshot
from watcher.storage import open_db

T0 = 1_700_000_000.0


def groups(tmp_path: Path, rules: str) -> list[RuleGroup]:
    path = tmp_path / "rules.yaml"
    path.write_text("groups:\n  - name: g\n    rules:\n" + rules, encoding="utf-8")
    return load_rule_files([path])


LOW = """      - alert: Low
        expr: balance < 100
        for: 5m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.user }} has {{ $value }}"}
"""


def snap(t: float, value: float | None, user: str = "a") -> Snapshot:
    series = [] if value is None else [Series("balance", {"user": user}, value)]
    return Snapshot.of(t, series)


def manager(
    gs: list[RuleGroup],
    db: sqlite3.Connection | None = None,
    registry: CollectorRegistry | None = None,
) -> RuleManager:
    metrics = WatcherMetrics(registry or CollectorRegistry())
    return RuleManager(gs, metrics=metrics, external_labels={"cluster": "prod"}, db=db)


def gauge(m: RuleManager, state: str) -> float | None:
    return m.metrics.registry.get_sample_value(
        "watcher_alerts", {"alertname": "Low", "state": state}
    )


def test_pending_then_firing_after_for(tmp_path: Path) -> None:
    """An alert is pending until `for` has passed, then fires with the current value."""
    m = manager(groups(tmp_path, LOW))
    assert m.evaluate(snap(T0, 50)) == []
    assert [a.state for a in m.active()] == ["pending"]
    assert m.evaluate(snap(T0 + 299, 40)) == []
    fired = m.evaluate(snap(T0 + 300, 30))
    assert [
        Alert(
            {"alertname": "Low", "severity": "page", "user": "a", "cluster": "prod"},
            {"summary": "a has 30"},
            T0 + 300,
            None,
            30.0,
        )
    ] == fired
    assert (gauge(m, "pending"), gauge(m, "firing")) == (0.0, 1.0)
    assert m.active()[0].active_at == T0


def test_pending_alert_that_clears_never_fires(tmp_path: Path) -> None:
    """A condition that goes away before `for` leaves nothing to send."""
    m = manager(groups(tmp_path, LOW))
    m.evaluate(snap(T0, 50))
    assert m.evaluate(snap(T0 + 60, 500)) == []
    assert m.active() == []
    assert m.evaluate(snap(T0 + 400, 50)) == []


def test_resolved_alert_is_sent_for_15_minutes_with_last_value(tmp_path: Path) -> None:
    """After resolution the alert is returned with ends_at for 15 minutes, then dropped."""
    m = manager(groups(tmp_path, LOW))
    m.evaluate(snap(T0, 50))
    m.evaluate(snap(T0 + 300, 42))
    [resolved] = m.evaluate(snap(T0 + 360, 500))
    assert (resolved.ends_at, resolved.value) == (T0 + 360, 42.0)
    assert [a.ends_at for a in m.evaluate(snap(T0 + 360 + 900, 500))] == [T0 + 360]
    assert m.evaluate(snap(T0 + 360 + 901, 500)) == []


def test_keep_firing_for_holds_alert(tmp_path: Path) -> None:
    """keep_firing_for keeps a firing alert after its condition clears."""
    rules = "      - alert: Low\n        expr: balance < 100\n        keep_firing_for: 2m\n"
    m = manager(groups(tmp_path, rules))
    m.evaluate(snap(T0, 50))
    assert [a.ends_at for a in m.evaluate(snap(T0 + 60, 500))] == [None]
    assert [a.ends_at for a in m.evaluate(snap(T0 + 179, 500))] == [None]
    assert [a.ends_at for a in m.evaluate(snap(T0 + 180, 500))] == [T0 + 180]


def test_restart_keeps_for_timer_and_firing_alert(tmp_path: Path) -> None:
    """State in SQLite survives a restart: `for` continues and firing stays firing."""
    db_path = str(tmp_path / "state.db")
    gs = groups(tmp_path, LOW)
    first = manager(gs, open_db(db_path))
    first.evaluate(snap(T0, 50))
    first.db.close()  # type: ignore[union-attr]
    second = manager(gs, open_db(db_path))
    assert [a.active_at for a in second.active()] == [T0]
    [fired] = second.evaluate(snap(T0 + 300, 50))
    assert fired.starts_at == T0 + 300
    second.db.close()  # type: ignore[union-attr]
    third = manager(gs, open_db(db_path))
    assert ([a.state for a in third.active()], gauge(third, "firing")) == (["firing"], 1.0)
    assert [a.ends_at for a in third.evaluate(snap(T0 + 310, 50))] == [None]


def test_failing_rule_does_not_stop_others(tmp_path: Path) -> None:
    """A run-time error is counted and logged; the other rules still evaluate."""
    rules = LOW.replace("for: 5m", "for: 0s") + (
        "      - alert: Broken\n        expr: balance / on(cur) limit\n"
    )
    m = manager(groups(tmp_path, rules))
    snapshot = Snapshot.of(
        T0,
        [
            Series("balance", {"user": "a"}, 1.0),
            Series("limit", {"user": "a", "cur": "x"}, 1.0),
            Series("limit", {"user": "b", "cur": "x"}, 1.0),
        ],
    )
    with capture_logs() as logs:
        alerts = m.evaluate(snapshot)
    assert [a.name for a in alerts] == ["Low"]
    assert (
        m.metrics.registry.get_sample_value(
            "watcher_rule_evaluation_failures_total", {"alertname": "Broken"}
        )
        == 1.0
    )
    assert [e["event"] for e in logs] == ["rule.evaluation_failed"]


def test_replace_groups_keeps_state_of_remaining_rules(tmp_path: Path) -> None:
    """A reload keeps pending timers of rules that still exist and forgets removed ones."""
    m = manager(groups(tmp_path, LOW))
    m.evaluate(snap(T0, 50))
    m.replace_groups(groups(tmp_path, LOW.replace("has", "holds")))
    [fired] = m.evaluate(snap(T0 + 300, 50))
    assert (fired.starts_at, fired.annotations["summary"]) == (T0 + 300, "a holds 50")
    m.replace_groups(groups(tmp_path, "      - alert: Other\n        expr: balance > 0\n"))
    assert (
        gauge(m, "firing"),
        [a.name for a in m.evaluate(snap(T0 + 301, 50))],
    ) == (None, ["Other"])


def test_same_labelset_after_alert_labels_is_an_error(tmp_path: Path) -> None:
    """Two series that become one alert identity fail the rule, as in Prometheus."""
    rules = "      - alert: Low\n        expr: balance < 100\n        labels: {user: x}\n"
    m = manager(groups(tmp_path, rules))
    m.evaluate(
        Snapshot.of(
            T0, [Series("balance", {"user": "a"}, 1.0), Series("balance", {"user": "b"}, 1.0)]
        )
    )
    assert (
        m.metrics.registry.get_sample_value(
            "watcher_rule_evaluation_failures_total", {"alertname": "Low"}
        )
        == 1.0
    )


@pytest.mark.parametrize("value", [float("nan")])
def test_nan_never_satisfies_a_comparison(tmp_path: Path, value: float) -> None:
    """NaN < 100 is false: a broken reading does not page."""
    m = manager(groups(tmp_path, LOW.replace("for: 5m", "for: 0s")))
    assert m.evaluate(snap(T0, value)) == []
