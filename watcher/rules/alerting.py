"""The alert state machine of one alerting rule, exactly as Prometheus's rules/alerting.go.

inactive -> pending (``for``) -> firing -> resolved; ``keep_firing_for`` holds a firing alert
after its condition went away; resolved alerts stay 15 minutes so the resolution is delivered.
Pure logic: the rule manager feeds it evaluated vectors and persists what changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from watcher.errors import RuleError
from watcher.rules.evaluate import Vector
from watcher.rules.loader import AlertingRule

State = Literal["pending", "firing", "inactive"]
RESOLVED_RETENTION = 15 * 60.0
LabelKey = tuple[tuple[str, str], ...]
Timers = tuple[str, float, float | None, float | None, float | None]


@dataclass
class ActiveAlert:
    """One alert instance of a rule: its identity (labels), rendered annotations and timers."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: State
    active_at: float
    value: float
    fired_at: float | None = None
    resolved_at: float | None = None
    keep_firing_since: float | None = None
    alertname: str = field(default="")
    group: str = field(default="")

    @property
    def key(self) -> LabelKey:
        """The identity of the alert within its rule."""
        return tuple(sorted(self.labels.items()))

    def timers(self) -> Timers:
        """What must survive a restart; persisted whenever it changes."""
        return (self.state, self.active_at, self.fired_at, self.resolved_at, self.keep_firing_since)


class RuleState:
    """The active alerts of one rule and the step that advances them."""

    def __init__(
        self,
        rule: AlertingRule,
        group: str,
        external_labels: Mapping[str, str],
        external_url: str = "",
    ) -> None:
        self.rule = rule
        self.group = group
        self.external_labels = dict(external_labels)
        self.external_url = external_url
        self.alerts: dict[LabelKey, ActiveAlert] = {}

    def __iter__(self) -> Iterator[ActiveAlert]:
        return iter(self.alerts.values())

    def step(self, vector: Vector, ts: float, limit: int = 0) -> None:
        """Advance every alert with the rule's result at ``ts``; raise RuleError like Prometheus."""
        rule = self.rule
        fresh: dict[LabelKey, ActiveAlert] = {}
        for sample in vector:
            tmpl_labels = dict(sample.labels)
            if sample.name is not None:
                tmpl_labels["__name__"] = sample.name
            labels = dict(sample.labels)
            for name, tmpl in rule.labels:
                labels[name] = tmpl.expand(
                    tmpl_labels, sample.value, self.external_labels, self.external_url
                )
            labels["alertname"] = rule.name
            labels = {k: v for k, v in labels.items() if v}
            annotations = {
                name: tmpl.expand(
                    tmpl_labels, sample.value, self.external_labels, self.external_url
                )
                for name, tmpl in rule.annotations
            }
            key = tuple(sorted(labels.items()))
            if key in fresh:
                msg = "vector contains metrics with the same labelset after applying alert labels"
                raise RuleError(msg)
            fresh[key] = ActiveAlert(
                labels,
                annotations,
                "pending",
                ts,
                sample.value,
                alertname=rule.name,
                group=self.group,
            )
        for key, new in fresh.items():
            old = self.alerts.get(key)
            if old is not None and old.state != "inactive":
                old.value = new.value
                old.annotations = new.annotations
                continue
            self.alerts[key] = new
        active = 0
        for key, alert in list(self.alerts.items()):
            if key not in fresh:
                keep_firing = False
                if alert.state == "firing" and rule.keep_firing_for > 0:
                    if alert.keep_firing_since is None:
                        alert.keep_firing_since = ts
                    keep_firing = ts - alert.keep_firing_since < rule.keep_firing_for
                expired = (
                    alert.resolved_at is not None and ts - alert.resolved_at > RESOLVED_RETENTION
                )
                if alert.state == "pending" or expired:
                    del self.alerts[key]
                if alert.state != "inactive" and not keep_firing:
                    alert.state = "inactive"
                    alert.resolved_at = ts
                if not keep_firing:
                    continue
            else:
                alert.keep_firing_since = None
            active += 1
            if alert.state == "pending" and ts - alert.active_at >= rule.hold:
                alert.state = "firing"
                alert.fired_at = ts
        if limit > 0 and active > limit:
            self.alerts = {}
            msg = f"exceeded limit of {limit} with {active} alerts"
            raise RuleError(msg)
