"""Alert lifecycle as Prometheus computes it, over snapshots at chosen times, surviving restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from watcher.alerts import Alert
from watcher.config import GlobalConfig
from watcher.metrics import WatcherMetrics
from watcher.rules import RuleGroup, RuleManager, load_rule_files
from watcher.series import Series, Snapshot
from watcher.state import open_db

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
    return RuleManager(
        gs,
        metrics=metrics,
        external_labels={"cluster": "prod"},
        db=db,
        evaluation_interval=GlobalConfig().evaluation_interval,
    )


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


def test_restart_keeps_a_firing_alert_and_restarts_a_short_for_timer(tmp_path: Path) -> None:
    """A firing alert survives a restart whole; a pending one whose `for` (5m) is under
    Prometheus's 10m grace period waits its `for` again after the restart, as in Prometheus
    (longer ones: tests/test_rules_restore.py)."""
    db_path = str(tmp_path / "state.db")
    gs = groups(tmp_path, LOW)
    first = manager(gs, open_db(db_path))
    first.evaluate(snap(T0, 50))
    first.db.close()  # type: ignore[union-attr]
    second = manager(gs, open_db(db_path))
    assert [] == second.active()
    assert [] == second.evaluate(snap(T0 + 300, 50))
    assert [T0 + 300] == [a.active_at for a in second.active()]
    [fired] = second.evaluate(snap(T0 + 600, 50))
    assert fired.starts_at == T0 + 600
    second.db.close()  # type: ignore[union-attr]
    third = manager(gs, open_db(db_path))
    assert ([a.state for a in third.active()], gauge(third, "firing")) == (["firing"], 1.0)
    assert [a.ends_at for a in third.evaluate(snap(T0 + 610, 50))] == [None]


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


TIERS = """      - alert: Low
        expr: balance < 100
        for: 5m
        labels: {severity: warning}
      - alert: Low
        expr: balance < 10
        for: 5m
        labels: {severity: critical}
"""


def severities(alerts: list[Alert]) -> list[tuple[str, float, float | None]]:
    return sorted((a.labels["severity"], a.starts_at, a.ends_at) for a in alerts)


def test_same_alert_name_twice_in_a_group_keeps_separate_state(tmp_path: Path) -> None:
    """Warning and critical tiers of one alert name fire and resolve independently."""
    m = manager(groups(tmp_path, TIERS))
    m.evaluate(snap(T0, 50))
    assert [("warning", T0 + 300, None)] == severities(m.evaluate(snap(T0 + 300, 5)))
    m.evaluate(snap(T0 + 360, 5))
    assert [("critical", T0 + 660, None), ("warning", T0 + 300, None)] == severities(
        m.evaluate(snap(T0 + 660, 5))
    )
    assert [("critical", T0 + 660, T0 + 720), ("warning", T0 + 300, None)] == severities(
        m.evaluate(snap(T0 + 720, 50))
    )
    assert (gauge(m, "firing"), gauge(m, "pending")) == (1.0, 0.0)


def two_files(tmp_path: Path, first: str, second: str) -> list[RuleGroup]:
    paths = []
    for name, expr in (("a.yaml", first), ("b.yaml", second)):
        path = tmp_path / name
        path.write_text(
            f"groups:\n  - name: g\n    rules:\n      - alert: Low\n        expr: {expr}\n",
            encoding="utf-8",
        )
        paths.append(path)
    return load_rule_files(paths)


def test_same_group_and_alert_name_in_two_files_do_not_share_state(tmp_path: Path) -> None:
    """Group g / alert Low in two files are two rules: one's silence never resolves the other."""
    m = manager(two_files(tmp_path, "balance < 100", "balance > 1000"))
    for t in (T0, T0 + 60, T0 + 120):
        assert [(T0, None)] == [(a.starts_at, a.ends_at) for a in m.evaluate(snap(t, 50))]


def test_reload_matches_same_named_rules_like_prometheus(tmp_path: Path) -> None:
    """After a reload that swaps the tiers and adds a third, each tier keeps its own `for` timer."""
    m = manager(groups(tmp_path, TIERS))
    m.evaluate(snap(T0, 5))
    swapped = TIERS.split("      - alert")
    reordered = "      - alert" + swapped[2] + "      - alert" + swapped[1]
    extra = "      - alert: Low\n        expr: balance < 100\n        for: 5m\n"
    extra += "        labels: {severity: warning}\n"
    m.replace_groups(groups(tmp_path, reordered + extra))
    m.evaluate(snap(T0 + 60, 5))
    assert [
        ("critical", T0 + 300, None),
        ("warning", T0 + 300, None),
    ] == severities(m.evaluate(snap(T0 + 300, 5)))
    assert [
        ("critical", T0 + 300, None),
        ("warning", T0 + 300, None),
        ("warning", T0 + 360, None),  # the added rule started at the reload
    ] == severities(m.evaluate(snap(T0 + 360, 5)))


def test_reload_does_not_carry_state_to_a_group_in_another_file(tmp_path: Path) -> None:
    """Moving a group to another file starts its rules afresh, as Prometheus keys groups by file."""
    m = manager(groups(tmp_path, LOW))
    m.evaluate(snap(T0, 50))
    moved = tmp_path / "moved.yaml"
    moved.write_text("groups:\n  - name: g\n    rules:\n" + LOW, encoding="utf-8")
    m.replace_groups(load_rule_files([moved]))
    assert [] == m.evaluate(snap(T0 + 300, 50))
    assert [T0 + 300] == [a.active_at for a in m.active()]


def test_restart_keeps_state_of_same_named_rules_and_same_named_groups(tmp_path: Path) -> None:
    """SQLite state survives a restart per rule, for repeated alert names and group names."""
    db_path = str(tmp_path / "state.db")
    (tmp_path / "t").mkdir()
    gs = groups(tmp_path / "t", TIERS) + two_files(tmp_path, "balance < 100", "balance > 1000")
    first = manager(gs, open_db(db_path))
    first.evaluate(snap(T0, 50))
    first.evaluate(snap(T0 + 300, 5))
    first.evaluate(snap(T0 + 600, 5))
    first.db.close()  # type: ignore[union-attr]
    second = manager(gs, open_db(db_path))
    assert [("critical", "firing", T0 + 600), ("warning", "firing", T0 + 300)] == sorted(
        (a.labels.get("severity", ""), a.state, a.fired_at)
        for a in second.active()
        if a.labels.get("severity")
    )
    alerts = second.evaluate(snap(T0 + 660, 50))
    assert [("critical", T0 + 600, T0 + 660), ("warning", T0 + 300, None)] == severities(
        [a for a in alerts if "severity" in a.labels]
    )
    assert [(T0, None)] == [(a.starts_at, a.ends_at) for a in alerts if "severity" not in a.labels]
    second.db.close()  # type: ignore[union-attr]
    third = manager(gs, open_db(db_path))
    assert [("critical", T0 + 600, T0 + 660), ("warning", T0 + 300, None)] == severities(
        [a for a in third.evaluate(snap(T0 + 720, 50)) if "severity" in a.labels]
    )


def test_restart_takes_over_state_saved_by_the_previous_version(tmp_path: Path) -> None:
    """A firing alert saved in the old rule_alerts table still fires after the upgrade restart."""
    db_path = str(tmp_path / "state.db")
    old = sqlite3.connect(db_path)  # a file as the first release left it
    with old:
        old.execute(
            "CREATE TABLE rule_alerts (group_name TEXT NOT NULL, alertname TEXT NOT NULL,"
            " labels TEXT NOT NULL, annotations TEXT NOT NULL, state TEXT NOT NULL,"
            " active_at REAL NOT NULL, fired_at REAL, resolved_at REAL, keep_firing_since REAL,"
            " value REAL NOT NULL, PRIMARY KEY (group_name, alertname, labels))"
        )
        old.execute(
            "INSERT INTO rule_alerts VALUES ('g', 'Low', ?, '{\"summary\": \"a has 50\"}',"
            " 'firing', ?, ?, NULL, NULL, 50)",
            ('[["alertname", "Low"], ["severity", "page"], ["user", "a"]]', T0, T0 + 300),
        )
    old.close()
    gs = groups(tmp_path, LOW)
    first = manager(gs, open_db(db_path))
    assert [("firing", T0 + 300)] == [(a.state, a.fired_at) for a in first.active()]
    first.db.close()  # type: ignore[union-attr]
    second = manager(gs, open_db(db_path))
    assert [(T0 + 300, None)] == [
        (a.starts_at, a.ends_at) for a in second.evaluate(snap(T0 + 400, 50))
    ]


def test_group_interval_paces_evaluation_but_alerts_are_resent(tmp_path: Path) -> None:
    """A group with interval: 1m sees new data only once a minute; its alerts go out every time."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        "groups:\n  - name: g\n    interval: 1m\n    rules:\n"
        "      - alert: Low\n        expr: balance < 100\n        for: 1m\n",
        encoding="utf-8",
    )
    m = manager(load_rule_files([path]))
    assert [] == m.evaluate(snap(T0, 500))
    assert [] == m.evaluate(snap(T0 + 15, 50))  # not due: the drop is not seen yet
    assert [] == m.active()
    m.evaluate(snap(T0 + 60, 50))  # due: pending from T0 + 60
    assert [T0 + 60] == [a.active_at for a in m.active()]
    assert [] == m.evaluate(snap(T0 + 105, 50))
    assert [(T0 + 120, None)] == [(a.starts_at, a.ends_at) for a in m.evaluate(snap(T0 + 120, 50))]
    assert [(T0 + 120, None)] == [(a.starts_at, a.ends_at) for a in m.evaluate(snap(T0 + 135, 500))]
    assert [(T0 + 120, T0 + 180)] == [
        (a.starts_at, a.ends_at) for a in m.evaluate(snap(T0 + 180, 500))
    ]
