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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from watcher.alerts import Alert
from watcher.errors import RuleError
from watcher.matchers import Matcher
from watcher.metrics import ALERT_STATES, WatcherMetrics
from watcher.rules.alerting import RESOLVED_RETENTION, ActiveAlert, LabelKey, RuleState, Timers
from watcher.rules.evaluate import Evaluator, SampleLike
from watcher.rules.loader import RuleGroup
from watcher.series import Snapshot
from watcher.state import transaction

if TYPE_CHECKING:
    from watcher.history import SampleHistory

log = structlog.get_logger(__name__)

# Alert state is keyed like Prometheus keys rules: a group by (file, name), a rule within it by
# its alert name and configured labels (Prometheus's nameAndLabels) plus which occurrence of that
# pair it is. The first release keyed by (group name, alert name) only; ``watcher.state`` keeps
# such a table as ``rule_alerts_legacy``, read once here and then dropped. The tables are
# created by ``watcher.state``.
_LEGACY_TABLE = "rule_alerts_legacy"
_SELECT = (
    "SELECT file, group_name, rule, occurrence, labels, annotations,"
    " state, active_at, fired_at, resolved_at, keep_firing_since, value FROM rule_alerts"
)
_UPSERT = (
    "INSERT OR REPLACE INTO rule_alerts (file, group_name, rule, occurrence, labels,"
    " annotations, state, active_at, fired_at, resolved_at, keep_firing_since, value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELETE_RULE = (
    "DELETE FROM rule_alerts WHERE file = ? AND group_name = ? AND rule = ? AND occurrence = ?"
)
_DELETE_ALERT = _DELETE_RULE + " AND labels = ?"
_SELECT_LEGACY = (
    "SELECT group_name, alertname, labels, annotations, state, active_at, fired_at,"
    " resolved_at, keep_firing_since, value FROM rule_alerts_legacy"
)

RuleKey = tuple[str, str, str, int]
"""(file, group name, rule signature, occurrence): one rule's identity across reloads/restarts."""


def rule_keys(group: RuleGroup) -> list[RuleKey]:
    """The key of each rule of ``group``, in order: the n-th rule with one name and label set
    gets occurrence n, so the n-th such rule of a reloaded group takes over its state."""
    seen: dict[str, int] = {}
    keys: list[RuleKey] = []
    for rule in group.rules:
        signature = json.dumps([rule.name, [[k, t.text] for k, t in rule.labels]])
        n = seen.get(signature, 0)
        seen[signature] = n + 1
        keys.append((group.file, group.name, signature, n))
    return keys


@dataclasses.dataclass
class _GroupRun:
    """One loaded group: its rules' states (in rule order), their keys, its last evaluation."""

    group: RuleGroup
    keys: list[RuleKey]
    states: list[RuleState]
    last_eval: float | None = None

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
    ) -> None:
        self.metrics = metrics
        self.external_labels = dict(external_labels)
        self.external_url = external_url
        self.db = db
        self.runs: list[_GroupRun] = []
        self._persisted: dict[RuleKey, dict[LabelKey, Timers]] = {}
        #: set after a failed write: the next evaluation retries it
        self.write_failed = False
        #: samples over time (range vectors, offset); set by the daemon, None in tests
        self.history: SampleHistory | None = None
        self.replace_groups(groups)
        if db is not None:
            self._restore()

    # --- public ---------------------------------------------------------------------------

    @property
    def groups(self) -> list[RuleGroup]:
        """The loaded groups, in file order."""
        return [run.group for run in self.runs]

    def evaluate(self, snapshot: Snapshot) -> list[Alert]:
        """Evaluate every due group over ``snapshot`` at ``snapshot.time``; return alerts to send.

        A group with ``interval`` runs only when that long has passed since its last run; the
        alerts of every group are returned on every call (they are re-sent).
        """
        started = time.perf_counter()
        ts = snapshot.time
        current = SnapshotQueryable(snapshot)
        evaluator = Evaluator(current if self.history is None else self.history.over(current), ts)
        for run in self.runs:
            if not run.due(ts):
                continue
            run.last_eval = ts
            group = run.group
            for state in run.states:
                try:
                    state.step(evaluator.vector(state.rule.node), ts, group.limit)
                except RuleError as exc:
                    self.metrics.rule_evaluation_failures.labels(alertname=state.rule.name).inc()
                    log.warning(
                        "rule.evaluation_failed",
                        file=group.file,
                        group=group.name,
                        alertname=state.rule.name,
                        error=str(exc),
                    )
        self._update_gauges()
        self._persist()
        out = self._alerts(ts)
        self.metrics.rule_evaluation_duration.observe(time.perf_counter() - started)
        return out

    def replace_groups(self, groups: Sequence[RuleGroup]) -> None:
        """Swap in reloaded groups, carrying state over as Prometheus's Group.CopyState does.

        Old and new groups match by (file, name); within them, the n-th rule with a given alert
        name and label set takes the alerts of the n-th such rule of the old group.
        """
        old_runs = {(r.group.file, r.group.name): r for r in self.runs}
        old_names = {st.rule.name for r in self.runs for st in r.states}
        old_keys = {k for r in self.runs for k in r.keys}
        runs: list[_GroupRun] = []
        for group in groups:
            keys = rule_keys(group)
            states = [
                RuleState(rule, group.name, self.external_labels, self.external_url)
                for rule in group.rules
            ]
            run = _GroupRun(group, keys, states)
            previous = old_runs.get((group.file, group.name))
            if previous is not None:
                run.last_eval = previous.last_eval
                carried = dict(zip(previous.keys, previous.states, strict=True))
                for key, state in zip(keys, states, strict=True):
                    if (prev := carried.get(key)) is not None:
                        state.alerts = prev.alerts
            runs.append(run)
        self.runs = runs
        new_keys = {k for r in runs for k in r.keys}
        gone = [k for k in old_keys if k not in new_keys]
        new_names = {st.rule.name for r in runs for st in r.states}
        for name in old_names - new_names:
            for st in ALERT_STATES:
                with contextlib.suppress(KeyError):
                    self.metrics.alerts.remove(name, st)
        if self.db is not None and gone:
            try:
                with transaction(self.db):
                    self.db.executemany(_DELETE_RULE, gone)
            except sqlite3.Error as exc:  # rows of rules that are gone are ignored at restore
                self._write_failed(exc)
        for key in gone:
            self._persisted.pop(key, None)
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

    def _states(self) -> Iterator[RuleState]:
        for run in self.runs:
            yield from run.states

    def _keyed(self) -> Iterator[tuple[RuleKey, RuleState]]:
        for run in self.runs:
            yield from zip(run.keys, run.states, strict=True)

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

    def _persist(self) -> None:
        """Write what changed since the last successful write, in one transaction.

        What counts as written is updated only after the commit, so a failed write (a full
        disk) is retried whole by the next evaluation, never forgotten.
        """
        if self.db is None:
            return
        upserts: list[tuple[object, ...]] = []
        deletes: list[tuple[object, ...]] = []
        written: dict[RuleKey, dict[LabelKey, Timers]] = {}
        for rid, state in self._keyed():
            before = self._persisted.get(rid, {})
            now = {a.key: a.timers() for a in state}
            for key, timers in now.items():
                if before.get(key) != timers:
                    a = state.alerts[key]
                    notes = json.dumps(a.annotations)
                    upserts.append((*rid, json.dumps(key), notes, *timers, a.value))
            deletes.extend((*rid, json.dumps(k)) for k in before if k not in now)
            written[rid] = now
        if upserts or deletes:
            try:
                with transaction(self.db):
                    self.db.executemany(_UPSERT, upserts)
                    self.db.executemany(_DELETE_ALERT, deletes)
            except sqlite3.Error as exc:
                self._write_failed(exc)
                return
        self._persisted = written
        self.write_failed = False

    def _write_failed(self, exc: sqlite3.Error) -> None:
        self.write_failed = True
        self.metrics.state_write_errors.labels(what="alerts").inc()
        log.error("state.write_failed", what="alerts", error=str(exc))

    def _restore(self) -> None:
        assert self.db is not None
        states = dict(self._keyed())
        stale: set[RuleKey] = set()
        for row in self.db.execute(_SELECT).fetchall():
            rid: RuleKey = (str(row[0]), str(row[1]), str(row[2]), int(row[3]))
            state = states.get(rid)
            if state is None:
                stale.add(rid)
                continue
            self._restore_alert(rid, state, row[4:])
        if stale:
            with transaction(self.db):
                self.db.executemany(_DELETE_RULE, sorted(stale))
        if _has_table(self.db, _LEGACY_TABLE):
            self._import_legacy()
        self._update_gauges()

    def _restore_alert(self, rid: RuleKey, state: RuleState, row: Sequence[Any]) -> None:
        labels, notes, st, active_at, fired, resolved, keep, value = row
        key = _json_key(labels)
        alert = ActiveAlert(
            dict(key),
            dict(json.loads(notes)),
            st,
            active_at,
            value,
            fired,
            resolved,
            keep,
            alertname=state.rule.name,
            group=state.group,
        )
        state.alerts[key] = alert
        self._persisted.setdefault(rid, {})[key] = alert.timers()

    def _import_legacy(self) -> None:
        """Carry version-1 rows (group name, alert name) to the first matching rule, once."""
        assert self.db is not None
        first: dict[tuple[str, str], tuple[RuleKey, RuleState]] = {}
        for rid, state in self._keyed():
            first.setdefault((state.group, state.rule.name), (rid, state))
        rows = self.db.execute(_SELECT_LEGACY).fetchall()
        for group, name, *rest in rows:
            match = first.get((str(group), str(name)))
            if match is not None:
                self._restore_alert(match[0], match[1], rest)
                self._persisted[match[0]].pop(_json_key(rest[0]), None)  # written by _persist
        with transaction(self.db):
            self._persist()
            self.db.execute(f"DROP TABLE {_LEGACY_TABLE}")


def _json_key(labels: str) -> LabelKey:
    """A persisted label set back as the alert's key."""
    return tuple((str(k), str(v)) for k, v in json.loads(labels))


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None
