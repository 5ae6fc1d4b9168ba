"""The rule manager: evaluates every rule over one snapshot, keeps and persists alert state.

``evaluate`` runs each due group's rules in order, as Prometheus's ``Group.Eval`` does: a
recording rule's result and an alerting rule's ``ALERTS`` / ``ALERTS_FOR_STATE`` series are
written at the evaluation time (``watcher.rules.outputs``), so the next rules of the group see
them at once and every later evaluation and query through the 5-minute lookback. It returns
what Prometheus would send to Alertmanager: every firing alert and every alert resolved in the
last 15 minutes, with external labels added. Alert state is persisted by
``watcher.rules.persist``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import structlog

from watcher.alerts import Alert
from watcher.errors import RuleError
from watcher.matchers import Matcher
from watcher.metrics import ALERT_STATES, WatcherMetrics
from watcher.rules.alerting import RESOLVED_RETENTION, ActiveAlert, RuleState
from watcher.rules.evaluate import Evaluator, Sample, SampleLike
from watcher.rules.loader import RecordingRule, RuleGroup
from watcher.rules.outputs import RuleOutputs, alert_series, recorded
from watcher.rules.persist import AlertStore, RuleKey
from watcher.rules.restore import (
    FOR_GRACE_PERIOD,
    FOR_OUTAGE_TOLERANCE,
    WARMUP_EVALUATIONS,
    restore_for_state,
)
from watcher.series import Series, Snapshot

if TYPE_CHECKING:
    from watcher.history import SampleHistory

log = structlog.get_logger(__name__)

__all__ = ["RuleKey", "RuleManager", "SnapshotQueryable", "generator_url", "rule_keys"]

#: the ``source`` under which rule outputs go into the sample history
HISTORY_SOURCE = "rules"


def rule_keys(group: RuleGroup) -> list[RuleKey]:
    """The key of each rule of ``group``, in order: the n-th rule with one name and label set
    gets occurrence n, so the n-th such rule of a reloaded group takes over its state."""
    seen: dict[str, int] = {}
    keys: list[RuleKey] = []
    for rule in group.rules:
        if isinstance(rule, RecordingRule):
            signature = json.dumps([rule.name, [list(kv) for kv in rule.labels], "record"])
        else:
            signature = json.dumps([rule.name, [[k, t.text] for k, t in rule.labels]])
        n = seen.get(signature, 0)
        seen[signature] = n + 1
        keys.append((group.file, group.name, signature, n))
    return keys


@dataclasses.dataclass
class _GroupRun:
    """One loaded group: its rules (an alerting rule by its state) in order, their keys, its
    last evaluation."""

    group: RuleGroup
    keys: list[RuleKey]
    states: list[RuleState | RecordingRule]
    last_eval: float | None = None
    #: seconds the last evaluation of the group, and of each of its rules, took
    eval_seconds: float = 0.0
    rule_seconds: dict[int, float] = dataclasses.field(default_factory=dict)
    #: each rule's error of its last evaluation (a rule that succeeded has none)
    rule_errors: dict[int, str] = dataclasses.field(default_factory=dict)
    #: evaluations left before ALERTS are written and ``for`` state restored (after a start)
    warmup: int = 0

    def due(self, ts: float) -> bool:
        """Whether the group runs at ``ts``: always without ``interval``, else once per interval."""
        interval = self.group.interval
        if not interval or self.last_eval is None:
            return True
        return not 0 <= ts - self.last_eval < interval - 1e-9


class SnapshotQueryable:
    """Selectors over one snapshot: the daemon's current series, no lookback needed."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        """Every series named ``name`` (any when None) that satisfies every matcher."""
        series = self.snapshot.select(name)
        if not matchers:
            return list(series)  # Series are read-only samples already: no copy
        out: list[SampleLike] = []
        for s in series:
            labels = s.labels
            for m in matchers:
                if not m.matches_value(s.name if m.name == "__name__" else labels.get(m.name, "")):
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
        evaluation_interval: float,
        for_grace_period: float = FOR_GRACE_PERIOD,
        for_outage_tolerance: float = FOR_OUTAGE_TOLERANCE,
    ) -> None:
        self.metrics = metrics
        #: global.evaluation_interval (its one default is the config's): a subquery's step
        #: when it names none, as in Prometheus
        self.evaluation_interval = evaluation_interval
        #: Prometheus's --rules.alert.for-grace-period and --rules.alert.for-outage-tolerance
        self.for_grace_period = for_grace_period
        self.for_outage_tolerance = for_outage_tolerance
        self.external_labels = dict(external_labels)
        self.external_url = external_url
        self.db = db
        self.store = None if db is None else AlertStore(db, metrics)
        self.runs: list[_GroupRun] = []
        #: what the rules wrote (recording rules, ALERTS, ALERTS_FOR_STATE), latest per rule
        self.outputs = RuleOutputs()
        #: rules gone at a reload whose series get stale markers at the next evaluation
        self._unowned: list[RuleKey] = []
        #: samples over time (range vectors, offset); set by the daemon, None in tests
        self.history: SampleHistory | None = None
        self.replace_groups(groups)
        # a start: as in Prometheus, the first evaluations write no ALERTS, then pending alerts
        # get their ``for`` state back from ALERTS_FOR_STATE (watcher.rules.restore); firing and
        # resolved alerts come back whole from SQLite
        for run in self.runs:
            run.warmup = WARMUP_EVALUATIONS
        if self.store is not None:
            self.store.restore(self._keyed())
            for state in self._states():
                state.alerts = {k: a for k, a in state.alerts.items() if a.state != "pending"}
            self._update_gauges()

    # --- public ---------------------------------------------------------------------------

    @property
    def groups(self) -> list[RuleGroup]:
        """The loaded groups, in file order."""
        return [run.group for run in self.runs]

    @property
    def write_failed(self) -> bool:
        """Whether the last write of alert state failed (the next evaluation retries it)."""
        return self.store is not None and self.store.write_failed

    def evaluate(self, snapshot: Snapshot) -> list[Alert]:
        """Evaluate every due group over ``snapshot`` at ``snapshot.time``; return alerts to send.

        A group with ``interval`` runs only when that long has passed since its last run; the
        alerts of every group are returned on every call (they are re-sent).
        """
        started = time.perf_counter()
        ts = snapshot.time
        current = self.outputs.over(SnapshotQueryable(snapshot), ts)
        source = current if self.history is None else self.history.over(current)
        evaluator = Evaluator(source, ts, step_ms=round(self.evaluation_interval * 1000))
        for owner in self._unowned:
            self._write(owner, ts, [])
        self._unowned = []
        for run in self.runs:
            if not run.due(ts):
                continue
            run.last_eval = ts
            group = run.group
            group_started = time.perf_counter()
            for i, (key, member) in enumerate(zip(run.keys, run.states, strict=True)):
                name = member.name if isinstance(member, RecordingRule) else member.rule.name
                out: list[Sample] | None
                rule_started = time.perf_counter()
                run.rule_errors.pop(i, None)
                try:
                    if isinstance(member, RecordingRule):
                        out = recorded(member, evaluator.vector(member.node), group.limit)
                    else:
                        member.step(evaluator.vector(member.rule.node), ts, group.limit)
                        out = alert_series(member) if not run.warmup else None
                except RuleError as exc:
                    # Prometheus appends nothing for a failed rule: what it wrote before stays
                    # visible for the lookback
                    self.metrics.rule_evaluation_failures.labels(alertname=name).inc()
                    run.rule_errors[i] = str(exc)
                    log.warning(
                        "rule.evaluation_failed",
                        file=group.file,
                        group=group.name,
                        alertname=name,
                        error=str(exc),
                    )
                    out = None
                if out is not None:
                    self._write(key, ts, out)
                run.rule_seconds[i] = time.perf_counter() - rule_started
            run.eval_seconds = time.perf_counter() - group_started
            if run.warmup:
                run.warmup -= 1
                if not run.warmup and self.history is not None:
                    alerting = [m for m in run.states if isinstance(m, RuleState)]
                    restore_for_state(
                        alerting, self.history, ts, self.for_grace_period, self.for_outage_tolerance
                    )
        self._update_gauges()
        if self.store is not None:
            self.store.persist(self._keyed())
        out_alerts = self._alerts(ts)
        self.metrics.rule_evaluation_duration.observe(time.perf_counter() - started)
        return out_alerts

    def series(self, now: float) -> list[Series]:
        """The rules' own series visible at ``now``, for queries (not on /metrics: Prometheus
        stores them, it does not expose them)."""
        return [
            Series(s.name or "", s.labels, s.value) for s in self.outputs.samples(now) if s.name
        ]

    def replace_groups(self, groups: Sequence[RuleGroup]) -> None:
        """Swap in reloaded groups, carrying state over as Prometheus's Group.CopyState does.

        Old and new groups match by (file, name); within them, the n-th rule with a given rule
        name and label set takes the alerts and written series of the n-th such rule of the
        old group. The series of rules that are gone get stale markers at the next evaluation.
        """
        old_runs = {(r.group.file, r.group.name): r for r in self.runs}
        old_names = {st.rule.name for st in self._states()}
        old_keys = {k for r in self.runs for k in r.keys}
        runs: list[_GroupRun] = []
        for group in groups:
            keys = rule_keys(group)
            states: list[RuleState | RecordingRule] = [
                rule
                if isinstance(rule, RecordingRule)
                else RuleState(rule, group.name, self.external_labels, self.external_url)
                for rule in group.rules
            ]
            run = _GroupRun(group, keys, states)
            previous = old_runs.get((group.file, group.name))
            if previous is not None:
                run.last_eval = previous.last_eval
                run.eval_seconds = previous.eval_seconds
                run.warmup = previous.warmup
                carried = dict(zip(previous.keys, previous.states, strict=True))
                for key, state in zip(keys, states, strict=True):
                    prev = carried.get(key)
                    if isinstance(prev, RuleState) and isinstance(state, RuleState):
                        state.alerts = prev.alerts
            runs.append(run)
        self.runs = runs
        new_keys = {k for r in runs for k in r.keys}
        gone = [k for k in old_keys if k not in new_keys]
        self._unowned.extend(o for o in self.outputs.forget(new_keys) if isinstance(o, tuple))
        new_names = {st.rule.name for st in self._states()}
        for name in old_names - new_names:
            for st in ALERT_STATES:
                with contextlib.suppress(KeyError):
                    self.metrics.alerts.remove(name, st)
        if self.store is not None:
            self.store.delete_rules(gone)
        self._update_gauges()

    def active(self) -> list[ActiveAlert]:
        """Pending and firing alerts (copies), for the status page."""
        return [
            dataclasses.replace(a, labels=dict(a.labels), annotations=dict(a.annotations))
            for state in self._states()
            for a in state
            if a.state != "inactive"
        ]

    # --- internals ------------------------------------------------------------------------

    def _write(self, owner: RuleKey, ts: float, samples: list[Sample]) -> None:
        """Store a rule's result at ``ts``, in the sample history too (with stale markers)."""
        self.outputs.write(owner, ts, samples)
        if self.history is not None:
            series = [Series(s.name or "", s.labels, s.value) for s in samples]
            self.history.record(HISTORY_SOURCE, json.dumps(owner), series, ts)

    def _states(self) -> Iterator[RuleState]:
        for run in self.runs:
            for state in run.states:
                if isinstance(state, RuleState):
                    yield state

    def _keyed(self) -> Iterator[tuple[RuleKey, RuleState]]:
        for run in self.runs:
            for key, state in zip(run.keys, run.states, strict=True):
                if isinstance(state, RuleState):
                    yield key, state

    def _alerts(self, ts: float) -> list[Alert]:
        out: list[Alert] = []
        for state in self._states():
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
        for state in self._states():
            name = state.rule.name
            for st in ALERT_STATES:
                counts.setdefault((name, st), 0)
            for a in state:
                if a.state != "inactive":
                    counts[(name, a.state)] += 1
        for (name, st), n in counts.items():
            self.metrics.alerts.labels(alertname=name, state=st).set(n)
