"""Alerts as the rule engine hands them to notification: Prometheus's notifier.Alert.

The rule engine calls ``AlertSink.send`` after every evaluation with every firing alert and
every alert resolved in the last 15 minutes, exactly as Prometheus sends to Alertmanager
(https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/). The sink
(our notification dispatcher, or a console printer in tests) owns grouping and delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return a stable 16-hex-digit identity for a label set (order independent)."""
    h = hashlib.sha256()
    for k in sorted(labels):
        h.update(k.encode())
        h.update(b"\xff")
        h.update(labels[k].encode())
        h.update(b"\xff")
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    """A firing or resolved alert instance.

    ``labels`` include ``alertname``, the rule's labels, the series' labels and the external
    labels. ``starts_at`` is the instant the alert became active (pending), as Prometheus sends
    it. ``ends_at`` is None while firing and the resolution instant once resolved. ``value``
    is the expression's value at the last evaluation that had the alert active (so a resolved
    alert carries the value at resolution).
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None
    value: float
    generator_url: str = ""

    @property
    def resolved(self) -> bool:
        """True once the alert has been resolved."""
        return self.ends_at is not None

    @property
    def fingerprint(self) -> str:
        """Identity of the alert: a hash of its labels."""
        return fingerprint(self.labels)

    @property
    def name(self) -> str:
        """The ``alertname`` label."""
        return self.labels.get("alertname", "")


class AlertSink(Protocol):
    """Where the rule engine delivers alerts after each evaluation."""

    async def send(self, alerts: Sequence[Alert], now: float) -> None:
        """Accept the current firing and recently resolved alerts."""
        ...
