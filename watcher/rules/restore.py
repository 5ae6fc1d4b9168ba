"""``for`` state after a restart, as Prometheus's ``Group.RestoreForState`` restores it.

Prometheus 2.42 (rules/manager.go): a group's first two evaluations after a start write no
``ALERTS`` / ``ALERTS_FOR_STATE``; after the second, each pending alert of a rule whose ``for``
is at least ``--rules.alert.for-grace-period`` (10m) looks up its ``ALERTS_FOR_STATE`` series
in storage within ``--rules.alert.for-outage-tolerance`` (1h): its last sample's time is when
the previous process last saw the alert (``downAt``), its value the alert's active-since time.
With ``remaining = for - (downAt - activeAt)``:

- ``remaining <= 0`` (it was firing): active since the stored time, so it fires at once;
- ``remaining < grace``: active since ``now + grace - for``, so it fires ``grace`` from now;
- otherwise the downtime is added to the stored time (the pending time already spent counts).

No sample within the tolerance, or a stale marker as the last one (the alert had ended): the
``for`` timer starts afresh, as it does for a rule whose ``for`` is below the grace period.
The watcher's storage is its sample history (``watcher.history``), where ``ALERTS_FOR_STATE``
is kept for ``storage.retention``; firing alerts are restored whole from SQLite instead
(``watcher.rules.persist``), so a restart resolves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from watcher.history.stale import is_stale
from watcher.matchers import Matcher
from watcher.rules.alerting import RuleState
from watcher.rules.outputs import ALERTS_FOR_STATE, for_state_labels

if TYPE_CHECKING:
    from watcher.history import SampleHistory

#: evaluations of a group after a start before its ALERTS are written and ``for`` restored
WARMUP_EVALUATIONS = 2
FOR_GRACE_PERIOD = 600.0  # --rules.alert.for-grace-period
FOR_OUTAGE_TOLERANCE = 3600.0  # --rules.alert.for-outage-tolerance


def restore_for_state(
    states: Iterable[RuleState],
    history: SampleHistory,
    now: float,
    grace: float = FOR_GRACE_PERIOD,
    tolerance: float = FOR_OUTAGE_TOLERANCE,
) -> int:
    """Move the active-since time of every pending alert of ``states``; return how many."""
    now_ms = round(now * 1000)
    start_ms = round((now - tolerance) * 1000)
    restored = 0
    for state in states:
        hold = state.rule.hold
        if hold < grace:
            continue
        for alert in state:
            if alert.state != "pending":
                continue
            labels = for_state_labels(state, alert)
            matchers = [Matcher.make(k, "=", v) for k, v in labels.items()]
            found = None
            for p in history.matching(ALERTS_FOR_STATE, matchers):
                if len(p.labels) == len(labels):  # exactly this label set
                    found = p
                    break
            if found is None:
                continue
            samples = history.samples(found, start_ms, now_ms)
            if not samples or is_stale(samples[-1][1]):
                continue
            t_ms, value = samples[-1]
            down_at = float(t_ms // 1000)  # time.Unix(t/1000, 0)
            active_at = float(math.trunc(value))  # time.Unix(int64(v), 0)
            remaining = hold - (down_at - active_at)
            if remaining <= 0:
                pass  # it was firing: it fires again at the next evaluation
            elif remaining < grace:
                active_at = now + grace - hold
            else:
                active_at += now - down_at
            alert.active_at = active_at
            restored += 1
    return restored
