"""The rule manager: evaluates every rule over one snapshot, keeps and persists alert state.

``evaluate`` returns what Prometheus would send to Alertmanager after the evaluation: every
firing alert and every alert resolved in the last 15 minutes, with external labels added.
State changes (new, firing, resolved, gone) are written to SQLite so a restart neither
restarts a ``for`` timer nor loses a firing alert.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence

import structlog

from watcher.alerts import Alert
from watcher.errors import RuleError
from watcher.metrics import ALERT_STATES, WatcherMetrics
from watcher.rules.alerting import RESOLVED_RETENTION, ActiveAlert, LabelKey, RuleState, Timers
from watcher.rules.evaluate import Evaluator, SampleLike
from watcher.rules.loader import RuleGroup
from watcher.rules.promql import LabelMatcher
from watcher.series import Snapshot

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rule_alerts (
    group_name TEXT NOT NULL,
    alertname TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    state TEXT NOT NULL,
    active_at REAL NOT NULL,
    fired_at REAL,
    resolved_at REAL,
    keep_firing_since REAL,
    value REAL NOT NULL,
    PRIMARY KEY (group_name, alertname, labels)
)
"""

RuleId = tuple[str, str]


class SnapshotQueryable:
    """Selectors over one snapshot: the daemon's current series, no lookback needed."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def select(self, name: str | None, matchers: Sequence[LabelMatcher]) -> Iterable[SampleLike]:
        """Every series named ``name`` (any when None) that satisfies every matcher."""
        series = self.snapshot.select(name)
        if not matchers:
            return list(series)  # Series are read-only samples already: no copy
        out: list[SampleLike] = []
        for s in series:
            labels = s.labels
            for m in matchers:
                if not m.matches(s.name if m.name == "__name__" else labels.get(m.name, "")):
                    break
            else:
                out.append(s)
        return out


def generator_url(external_url: str, expr: str) -> str:
    """Prometheus's link to the expression (strutil.TableLinkForExpression)."""
    if not external_url:
        return ""
    escaped = urllib.parse.quote_plus(expr)
    return f"{external_url.rstrip('/')}/graph?g0.expr={escaped}&g0.tab=1"


class RuleManager:
    """Evaluates rule groups and owns the alert state of every rule."""

    def __init__(
        self,
        groups: Sequence[RuleGroup],
        *,
        metrics: WatcherMetrics,
        external_labels: Mapping[str, str],
        external_url: str = "",
        db: sqlite3.Connection | None = None,
    ) -> None:
        self.metrics = metrics
        self.external_labels = dict(external_labels)
        self.external_url = external_url
        self.db = db
        self.groups: list[RuleGroup] = []
        self.states: dict[RuleId, RuleState] = {}
        self._persisted: dict[RuleId, dict[LabelKey, Timers]] = {}
        if db is not None:
            db.execute(_SCHEMA)
        self.replace_groups(groups)
        if db is not None:
            self._restore()

    # --- public ---------------------------------------------------------------------------

    def evaluate(self, snapshot: Snapshot) -> list[Alert]:
        """Evaluate every rule over ``snapshot`` at ``snapshot.time``; return alerts to send."""
        started = time.perf_counter()
        ts = snapshot.time
        evaluator = Evaluator(SnapshotQueryable(snapshot), ts)
        for group in self.groups:
            for rule in group.rules:
                state = self.states[(group.name, rule.name)]
                try:
                    state.step(evaluator.vector(rule.node), ts, group.limit)
                except RuleError as exc:
                    self.metrics.rule_evaluation_failures.labels(alertname=rule.name).inc()
                    log.warning(
                        "rule.evaluation_failed",
                        group=group.name,
                        alertname=rule.name,
                        error=str(exc),
                    )
        self._update_gauges()
        self._persist()
        out = self._alerts(ts)
        self.metrics.rule_evaluation_duration.observe(time.perf_counter() - started)
        return out

    def replace_groups(self, groups: Sequence[RuleGroup]) -> None:
        """Swap in reloaded groups, keeping the state of every (group, alertname) that remains."""
        old_names = {name for _, name in self.states}
        states: dict[RuleId, RuleState] = {}
        for group in groups:
            for rule in group.rules:
                state = RuleState(rule, group.name, self.external_labels, self.external_url)
                previous = self.states.get((group.name, rule.name))
                if previous is not None:
                    state.alerts = previous.alerts
                states[(group.name, rule.name)] = state
        gone = [rid for rid in self.states if rid not in states]
        self.groups = list(groups)
        self.states = states
        new_names = {name for _, name in states}
        for name in old_names - new_names:
            for st in ALERT_STATES:
                with contextlib.suppress(KeyError):
                    self.metrics.alerts.remove(name, st)
        if self.db is not None and gone:
            with self.db:
                self.db.executemany(
                    "DELETE FROM rule_alerts WHERE group_name = ? AND alertname = ?", gone
                )
            for rid in gone:
                self._persisted.pop(rid, None)
        self._update_gauges()

    def active(self) -> list[ActiveAlert]:
        """Pending and firing alerts (copies), for the status page."""
        return [
            dataclasses.replace(a, labels=dict(a.labels), annotations=dict(a.annotations))
            for state in self.states.values()
            for a in state
            if a.state != "inactive"
        ]

    # --- internals ------------------------------------------------------------------------

    def _alerts(self, ts: float) -> list[Alert]:
        out: list[Alert] = []
        for state in self.states.values():
            url = generator_url(self.external_url, state.rule.expr)
            for a in state:
                if a.state == "pending":
                    continue
                if a.state == "inactive" and (
                    a.resolved_at is None or ts - a.resolved_at > RESOLVED_RETENTION
                ):
                    continue
                labels = dict(self.external_labels)
                labels.update(a.labels)
                starts = a.fired_at if a.fired_at is not None else a.active_at
                ends = a.resolved_at if a.state == "inactive" else None
                out.append(Alert(labels, dict(a.annotations), starts, ends, a.value, url))
        return out

    def _update_gauges(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for (_, name), state in self.states.items():
            for st in ALERT_STATES:
                counts.setdefault((name, st), 0)
            for a in state:
                if a.state != "inactive":
                    counts[(name, a.state)] += 1
        for (name, st), n in counts.items():
            self.metrics.alerts.labels(alertname=name, state=st).set(n)

    def _persist(self) -> None:
        if self.db is None:
            return
        upserts: list[tuple[object, ...]] = []
        deletes: list[tuple[str, str, str]] = []
        for rid, state in self.states.items():
            before = self._persisted.setdefault(rid, {})
            now = {a.key: a.timers() for a in state}
            for key, timers in now.items():
                if before.get(key) != timers:
                    a = state.alerts[key]
                    upserts.append(
                        (
                            rid[0],
                            rid[1],
                            json.dumps(key),
                            json.dumps(a.annotations),
                            *timers,
                            a.value,
                        )
                    )
            deletes.extend((rid[0], rid[1], json.dumps(k)) for k in before if k not in now)
            self._persisted[rid] = now
        if not upserts and not deletes:
            return
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO rule_alerts (group_name, alertname, labels, annotations,"
                " state, active_at, fired_at, resolved_at, keep_firing_since, value)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                upserts,
            )
            self.db.executemany(
                "DELETE FROM rule_alerts WHERE group_name = ? AND alertname = ? AND labels = ?",
                deletes,
            )

    def _restore(self) -> None:
        assert self.db is not None
        rows = self.db.execute(
            "SELECT group_name, alertname, labels, annotations, state, active_at, fired_at,"
            " resolved_at, keep_firing_since, value FROM rule_alerts"
        ).fetchall()
        stale: list[tuple[str, str]] = []
        for group, name, labels, notes, st, active_at, fired, resolved, keep, value in rows:
            state = self.states.get((group, name))
            if state is None:
                stale.append((group, name))
                continue
            key: LabelKey = tuple((str(k), str(v)) for k, v in json.loads(labels))
            alert = ActiveAlert(
                dict(key),
                dict(json.loads(notes)),
                st,
                active_at,
                value,
                fired,
                resolved,
                keep,
                alertname=name,
                group=group,
            )
            state.alerts[key] = alert
            self._persisted.setdefault((group, name), {})[key] = alert.timers()
        if stale:
            with self.db:
                self.db.executemany(
                    "DELETE FROM rule_alerts WHERE group_name = ? AND alertname = ?", stale
                )
        self._update_gauges()
