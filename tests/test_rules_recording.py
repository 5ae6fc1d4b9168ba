"""Recording rules and the rules' own series (ALERTS), as Prometheus's rule groups write them."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from tests.conftest import Writer
from watcher.app import Daemon
from watcher.clock import FakeClock
from watcher.config import GlobalConfig, load_config
from watcher.history import SampleHistory, required_retention
from watcher.metrics import WatcherMetrics
from watcher.query import run_query
from watcher.rules import RuleGroup, RuleManager, load_rule_files
from watcher.series import Series, Snapshot
from watcher.store import SeriesStore

T0 = 1_700_000_000.0

RULES = """groups:
  - name: record
    rules:
      - record: user:balance:sum
        expr: sum by (user) (balance)
        labels: {team: pay}
      - alert: SumLow
        expr: user:balance:sum < 100
  - name: later
    rules:
      - alert: SumLowElsewhere
        expr: user:balance:sum < 100
"""


def load(tmp_path: Path, text: str = RULES) -> list[RuleGroup]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rule_files([path])


def manager(groups: list[RuleGroup]) -> RuleManager:
    return RuleManager(
        groups,
        metrics=WatcherMetrics(CollectorRegistry()),
        external_labels={},
        evaluation_interval=GlobalConfig().evaluation_interval,
    )


def snap(t: float, **balances: float) -> Snapshot:
    return Snapshot.of(t, [Series("balance", {"user": u}, v) for u, v in balances.items()])


def names(m: RuleManager, now: float) -> list[tuple[str, dict[str, str], float]]:
    out = [(s.name, dict(s.labels), s.value) for s in m.series(now)]
    return sorted(out, key=lambda s: (s[0], sorted(s[1].items())))


def test_a_recorded_series_is_read_by_the_same_and_later_groups(tmp_path: Path) -> None:
    """The record rule's result of an evaluation fires the alert after it in the group at once,
    and the other group's alert in the same evaluation (groups run in order)."""
    m = manager(load(tmp_path))
    alerts = m.evaluate(snap(T0, a=40, b=500))
    assert [("SumLow", "a"), ("SumLowElsewhere", "a")] == sorted(
        (a.labels["alertname"], a.labels["user"]) for a in alerts
    )
    assert ("user:balance:sum", {"team": "pay", "user": "a"}, 40.0) in names(m, T0)


def test_rule_series_are_alerts_and_recordings_visible_for_the_lookback(tmp_path: Path) -> None:
    """m.series lists recorded series and ALERTS / ALERTS_FOR_STATE (from the third evaluation
    after a start) within 5 minutes of their evaluation, and nothing after."""
    m = manager(load(tmp_path))
    for t in (T0 - 120, T0 - 60):  # after a start, Prometheus writes ALERTS from the third
        m.evaluate(snap(t, a=40))
    assert ["user:balance:sum"] == sorted({s.name for s in m.series(T0 - 60)})
    m.evaluate(snap(T0, a=40))
    assert [
        ("ALERTS", {"alertname": "SumLow", "alertstate": "firing", "team": "pay", "user": "a"}, 1.0),
        ("ALERTS", {"alertname": "SumLowElsewhere", "alertstate": "firing", "team": "pay", "user": "a"}, 1.0),
        ("ALERTS_FOR_STATE", {"alertname": "SumLow", "team": "pay", "user": "a"}, T0 - 120),
        ("ALERTS_FOR_STATE", {"alertname": "SumLowElsewhere", "team": "pay", "user": "a"}, T0 - 120),
        ("user:balance:sum", {"team": "pay", "user": "a"}, 40.0),
    ] == names(m, T0 + 300)  # fmt: skip
    assert [] == names(m, T0 + 301)


def test_a_series_the_rule_no_longer_returns_is_gone_at_once(tmp_path: Path) -> None:
    """User b's recorded sum vanishes with its input (a stale marker), not 5 minutes later."""
    m = manager(load(tmp_path))
    m.evaluate(snap(T0, a=400, b=500))
    m.evaluate(snap(T0 + 60, a=400))
    assert [("user:balance:sum", {"team": "pay", "user": "a"}, 400.0)] == names(m, T0 + 60)


def test_a_failing_recording_rule_keeps_its_last_result_for_the_lookback(tmp_path: Path) -> None:
    """A failed evaluation writes nothing: the previous result stays visible (Prometheus)."""
    rules = """groups:
  - name: g
    rules:
      - record: r
        expr: balance / on() other
"""
    m = manager(load(tmp_path, rules))
    good = Snapshot.of(T0, [Series("balance", {}, 6.0), Series("other", {}, 2.0)])
    m.evaluate(good)
    dup = [Series("other", {"x": "1"}, 1.0), Series("other", {"x": "2"}, 1.0)]
    m.evaluate(Snapshot.of(T0 + 60, [Series("balance", {}, 6.0), *dup]))
    assert [("r", {}, 3.0)] == names(m, T0 + 60)
    assert 1.0 == m.metrics.registry.get_sample_value(
        "watcher_rule_evaluation_failures_total", {"alertname": "r"}
    )


def test_a_reload_drops_the_series_of_a_removed_rule(tmp_path: Path) -> None:
    """After a reload without the record rule, its series are no longer queryable."""
    m = manager(load(tmp_path))
    m.evaluate(snap(T0, a=400))
    m.replace_groups(load(tmp_path, "groups:\n  - {name: record, rules: []}\n"))
    m.evaluate(snap(T0 + 60, a=400))
    assert [] == names(m, T0 + 60)


async def test_the_daemon_answers_queries_for_recorded_series_not_on_metrics(
    write: Writer,
) -> None:
    """/api/v1/query sees a recorded series and ALERTS; /metrics does not expose them, as
    Prometheus stores rule results in its TSDB without exposing them."""
    write("rules.yaml", RULES)
    path = write(
        "watcher.yaml",
        f"storage: {{path: {write.root}/state.db}}\nrule_files: [{write.root}/rules.yaml]\n",
    )
    clock = FakeClock(T0)
    daemon = Daemon(load_config(path), clock=clock, deliver=False)
    for _ in range(3):  # ALERTS are written from the third evaluation after a start
        daemon.store.put("s", "g", [Series("balance", {"user": "a"}, 40.0)], clock.time())
        await daemon.evaluate()
        clock.advance(60)
    snapshot = daemon.snapshot()
    status, body = run_query({"query": "user:balance:sum"}, snapshot, daemon.history)
    _, alerts = run_query({"query": 'ALERTS{alertname="SumLow"}'}, snapshot, daemon.history)
    exposition = generate_latest(daemon.registry).decode()
    await daemon.stop()
    assert 200 == status
    assert [{"__name__": "user:balance:sum", "team": "pay", "user": "a"}] == [
        r["metric"] for r in body["data"]["result"]
    ]
    assert ["firing"] == [r["metric"]["alertstate"] for r in alerts["data"]["result"]]
    assert "user:balance:sum" not in exposition
    assert "ALERTS" not in exposition


def test_a_subquery_in_a_rule_reads_the_daemons_history(tmp_path: Path) -> None:
    """A rule with a subquery keeps (and reads) the samples its steps need, as polls arrive."""
    rules = load(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n"
        "      - record: bal:max5m\n        expr: max_over_time(balance[5m:1m])\n",
    )
    history = SampleHistory(required_retention(rules))
    store = SeriesStore()
    store.subscribe(history.record)
    m = manager(rules)
    m.history = history
    for minute, value in enumerate([10.0, 70.0, 30.0, 20.0]):
        t = T0 - T0 % 60 + minute * 60
        store.put("s", "g", [Series("balance", {"user": "a"}, value)], t)
        m.evaluate(store.snapshot(t))
    assert [("bal:max5m", {"user": "a"}, 70.0)] == names(m, t)
