"""Alert state in SQLite: what survives a restart of the rule manager.

State changes (new, firing, resolved, gone) are written in one transaction per evaluation, so
a restart neither restarts a ``for`` timer nor loses a firing alert; ``watcher.state`` creates
the tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import structlog

from watcher.metrics import WatcherMetrics
from watcher.rules.alerting import ActiveAlert, LabelKey, RuleState, Timers
from watcher.state import transaction

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


class AlertStore:
    """Writes alert state changes and reads them back at start-up."""

    def __init__(self, db: sqlite3.Connection, metrics: WatcherMetrics) -> None:
        self.db = db
        self.metrics = metrics
        self._persisted: dict[RuleKey, dict[LabelKey, Timers]] = {}
        #: set after a failed write: the next evaluation retries it
        self.write_failed = False

    def persist(self, keyed: Iterable[tuple[RuleKey, RuleState]]) -> None:
        """Write what changed since the last successful write, in one transaction.

        What counts as written is updated only after the commit, so a failed write (a full
        disk) is retried whole by the next evaluation, never forgotten.
        """
        upserts: list[tuple[object, ...]] = []
        deletes: list[tuple[object, ...]] = []
        written: dict[RuleKey, dict[LabelKey, Timers]] = {}
        for rid, state in keyed:
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
                self.failed(exc)
                return
        self._persisted = written
        self.write_failed = False

    def delete_rules(self, gone: Sequence[RuleKey]) -> None:
        """Forget the alerts of rules that are no longer loaded."""
        for key in gone:
            self._persisted.pop(key, None)
        if not gone:
            return
        try:
            with transaction(self.db):
                self.db.executemany(_DELETE_RULE, gone)
        except sqlite3.Error as exc:  # rows of rules that are gone are ignored at restore
            self.failed(exc)

    def failed(self, exc: sqlite3.Error) -> None:
        """Count and log a failed write."""
        self.write_failed = True
        self.metrics.state_write_errors.labels(what="alerts").inc()
        log.error("state.write_failed", what="alerts", error=str(exc))

    def restore(self, keyed: Iterable[tuple[RuleKey, RuleState]]) -> None:
        """Put every persisted alert back into its rule's state; drop rows of unknown rules."""
        keyed = list(keyed)
        states = dict(keyed)
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
            self._import_legacy(keyed)

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

    def _import_legacy(self, keyed: list[tuple[RuleKey, RuleState]]) -> None:
        """Carry version-1 rows (group name, alert name) to the first matching rule, once."""
        first: dict[tuple[str, str], tuple[RuleKey, RuleState]] = {}
        for rid, state in keyed:
            first.setdefault((state.group, state.rule.name), (rid, state))
        rows = self.db.execute(_SELECT_LEGACY).fetchall()
        for group, name, *rest in rows:
            match = first.get((str(group), str(name)))
            if match is not None:
                self._restore_alert(match[0], match[1], rest)
                self._persisted[match[0]].pop(_json_key(rest[0]), None)  # written by persist
        with transaction(self.db):
            self.persist(keyed)
            self.db.execute(f"DROP TABLE {_LEGACY_TABLE}")


def _json_key(labels: str) -> LabelKey:
    """A persisted label set back as the alert's key."""
    return tuple((str(k), str(v)) for k, v in json.loads(labels))


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None
