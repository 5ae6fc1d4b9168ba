"""The series rules write: recording rules' results, ``ALERTS`` and ``ALERTS_FOR_STATE``.

Prometheus appends what a rule returns to its storage at the evaluation time, so later rules
of the same group (same evaluation) and every query after it read them like scraped series;
a series the rule wrote at its previous evaluation and not at this one gets a stale marker
(rules/manager.go ``Group.Eval``). A failed evaluation appends nothing, so the previous samples
stay visible for the 5-minute lookback. ``RuleOutputs`` holds the latest result of each rule
for the daemon; promtool's runner writes into its own test storage instead.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence

from watcher.errors import RuleError
from watcher.matchers import Matcher
from watcher.rules.alerting import ActiveAlert, RuleState
from watcher.rules.evaluate import Queryable, Sample, SampleLike, Vector
from watcher.rules.loader import RecordingRule

LOOKBACK = 300.0  # seconds: Prometheus's default query.lookback-delta
ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"


def recorded(rule: RecordingRule, vector: Vector, limit: int = 0) -> list[Sample]:
    """A recording rule's result renamed and relabelled (rules/recording.go ``Eval``)."""
    out: list[Sample] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for s in vector:
        labels = dict(s.labels)
        for name, value in rule.labels:
            if value:
                labels[name] = value
            else:  # labels.Builder.Set with an empty value deletes the label
                labels.pop(name, None)
        key = tuple(sorted(labels.items()))
        if key in seen:
            msg = "vector contains metrics with the same labelset after applying rule labels"
            raise RuleError(msg)
        seen.add(key)
        out.append(Sample(rule.name, labels, s.value))
    if limit > 0 and len(out) > limit:
        msg = f"exceeded limit of {limit} with {len(out)} series"
        raise RuleError(msg)
    return out


def alert_series(state: RuleState) -> list[Sample]:
    """``ALERTS`` and ``ALERTS_FOR_STATE`` of every pending or firing alert of ``state``.

    As rules/alerting.go ``sample`` / ``forStateSample``: the rule's configured labels as
    written (templates unexpanded; the alert's expanded labels override them, so only a
    label whose template expanded to nothing keeps its text), then the alert's labels,
    ``alertname`` and, for ``ALERTS``, ``alertstate``. ``ALERTS_FOR_STATE`` is the alert's
    ``ActiveAt`` in whole Unix seconds.
    """
    out: list[Sample] = []
    for alert in state:
        if alert.state == "inactive":
            continue
        labels = for_state_labels(state, alert)
        out.append(Sample(ALERTS, {**labels, "alertstate": alert.state}, 1.0))
        out.append(Sample(ALERTS_FOR_STATE, labels, float(math.floor(alert.active_at))))
    return out


def for_state_labels(state: RuleState, alert: ActiveAlert) -> dict[str, str]:
    """The labels of ``alert``'s ``ALERTS_FOR_STATE`` series (``ALERTS``: plus alertstate)."""
    base = {name: tmpl.text for name, tmpl in state.rule.labels if tmpl.text}
    return {**base, **alert.labels, "alertname": state.rule.name}


def series_key(s: SampleLike) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """A series' identity: name and sorted labels."""
    return s.name, tuple(sorted(s.labels.items()))


class RuleOutputs:
    """The latest samples each rule wrote, with the time it wrote them (the daemon's view).

    Keyed by an owner (the rule's identity); reading at ``now`` gives what Prometheus's
    lookback would: the samples of every write in the last 5 minutes, a rule's newer write
    replacing its older one (which is what its stale markers do).
    """

    def __init__(self) -> None:
        self._latest: dict[Hashable, tuple[float, list[Sample]]] = {}

    def write(self, owner: Hashable, ts: float, samples: list[Sample]) -> None:
        """Store ``owner``'s result of the evaluation at ``ts``."""
        self._latest[owner] = (ts, samples)

    def forget(self, keep: Iterable[Hashable]) -> list[Hashable]:
        """Drop every owner not in ``keep`` (rules gone at a reload); return the dropped."""
        kept = set(keep)
        gone = [o for o in self._latest if o not in kept]
        for owner in gone:
            del self._latest[owner]
        return gone

    def samples(self, now: float) -> list[Sample]:
        """Every sample visible at ``now`` (written in [now - 5m, now])."""
        out: list[Sample] = []
        for ts, samples in self._latest.values():
            if now - LOOKBACK <= ts <= now:
                out.extend(samples)
        return out

    def over(self, base: Queryable, now: float) -> Queryable:
        """``base`` (the sources' series) with the rule outputs visible at ``now``."""
        return _Overlay(base, self, now)


class _Overlay:
    """Selectors over the sources' series plus the rules' outputs.

    A series present in both (the daemon's snapshot may already carry rule outputs) is taken
    from the outputs, which are at least as new.
    """

    def __init__(self, base: Queryable, outputs: RuleOutputs, now: float) -> None:
        self.base = base
        self.outputs = outputs
        self.now = now

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        """The matching series of both, outputs last."""
        extra = [
            s
            for s in self.outputs.samples(self.now)
            if (name is None or s.name == name)
            and all(
                m.matches_value(
                    (s.name or "") if m.name == "__name__" else s.labels.get(m.name, "")
                )
                for m in matchers
            )
        ]
        base = self.base.select(name, matchers)
        if not extra:
            return base
        names = {s.name for s in extra}
        keys = {series_key(s) for s in extra}
        kept = [s for s in base if s.name not in names or series_key(s) not in keys]
        return kept + extra
