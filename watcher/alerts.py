"""Alerts as the rule engine hands them to notification: Prometheus's notifier.Alert.

After every evaluation the daemon (``watcher.app``) hands
``watcher.notify.dispatch.Dispatcher.send`` every firing alert and every alert resolved in the
last 15 minutes, exactly as Prometheus sends to Alertmanager
(https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/). The dispatcher
owns grouping and delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF  # model.SeparatorByte: cannot occur in UTF-8
_MASK = (1 << 64) - 1


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's alert fingerprint: ``model.LabelSet.Fingerprint()``, as 16 hex digits.

    FNV-1a 64 over the label names in sorted order, each name and value followed by the
    separator byte 255, exactly as prometheus/common ``labelSetToFingerprint`` computes it,
    so ``/api/v2/alerts`` and webhook payloads carry the ids Alertmanager shows.
    """
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8", "surrogatepass"):
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


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
