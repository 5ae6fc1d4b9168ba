"""``alertmanager_configs``: forward alerts to Alertmanagers as Prometheus does.

Prometheus (``rules/alerting.go``, ``notifier/notifier.go``) re-sends a firing alert every
resend delay (1m) with ``endsAt`` = now + 4 * max(resend delay, evaluation interval), so the
Alertmanager keeps it alive, and sends a resolved alert with its resolution time for 15
minutes. Every replica sends the same alerts, and the Alertmanager cluster pages once.
Grouping, silences and inhibition are the Alertmanager's job here, not ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp

from watcher.alerts import Alert
from watcher.config import AlertmanagerConfig, ReceiverConfig
from watcher.notify.base import Payload
from watcher.notify.data import rfc3339
from watcher.notify.post import post_json

RESEND_DELAY = 60.0  # Prometheus's --rules.alert.resend-delay default


def valid_for(evaluation_interval: float) -> float:
    """How long past ``now`` a firing alert is declared valid (Prometheus's ``ValidUntil``)."""
    return 4 * max(RESEND_DELAY, evaluation_interval)


def postable(alert: Alert, now: float, evaluation_interval: float) -> Payload:
    """One ``postableAlert`` of the Alertmanager API v2."""
    ends = alert.ends_at if alert.ends_at is not None else now + valid_for(evaluation_interval)
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(ends),
        "generatorURL": alert.generator_url,
    }


class ResendTracker:
    """Decides which alerts are due for (re)sending to one Alertmanager (``needsSending``)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float | None]] = {}  # fp -> (sent at, ends_at sent)

    def due(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Alerts never sent, newly resolved, or last sent at least a resend delay ago."""
        out = []
        for a in alerts:
            last = self._last.get(a.fingerprint)
            if (
                last is None
                or (a.ends_at is not None and last[1] != a.ends_at)
                or last[0] + RESEND_DELAY <= now
            ):
                out.append(a)
                self._last[a.fingerprint] = (now, a.ends_at)
        return out

    def forget_before(self, cutoff: float) -> None:
        """Drop bookkeeping for alerts not sent since ``cutoff``."""
        self._last = {fp: v for fp, v in self._last.items() if v[0] >= cutoff}


@dataclass(frozen=True, slots=True)
class Batch:
    """Alerts due for one ``alertmanager_configs`` entry."""

    key: str  # the outbox key
    target: tuple[str, str, int]
    alerts: list[Payload]  # postable alerts
    firing: int


class Forwarder:
    """Decides what each ``alertmanager_configs`` entry is sent, as Prometheus's notifier."""

    def __init__(self) -> None:
        self._trackers: dict[str, ResendTracker] = {}

    def batches(
        self,
        alerts: Iterable[Alert],
        receivers_of: Callable[[Alert], Iterable[ReceiverConfig]],
        now: float,
        evaluation_interval: float,
    ) -> list[Batch]:
        """Per entry of each receiver the alerts route to, the alerts due for (re)sending."""
        grouped: dict[tuple[str, int], list[Alert]] = {}
        for a in alerts:
            for receiver in receivers_of(a):
                for i in range(len(receiver.alertmanager_configs)):
                    grouped.setdefault((receiver.name, i), []).append(a)
        out = []
        for (name, i), batch in grouped.items():
            key = f"alertmanager|{name}/alertmanager[{i}]"
            due = self._trackers.setdefault(key, ResendTracker()).due(batch, now)
            if due:
                body = [postable(a, now, evaluation_interval) for a in due]
                firing = sum(1 for a in due if a.ends_at is None)
                out.append(Batch(key, (name, "alertmanager", i), body, firing))
        return out

    def forget_before(self, cutoff: float) -> None:
        """Drop bookkeeping for alerts not sent since ``cutoff``."""
        for tracker in self._trackers.values():
            tracker.forget_before(cutoff)


def merge(older: list[Payload], newer: list[Payload]) -> list[Payload]:
    """A queued batch updated with newer copies of the same alerts (by label set)."""
    by_labels = {tuple(sorted(p["labels"].items())): p for p in older}
    by_labels.update({tuple(sorted(p["labels"].items())): p for p in newer})
    return list(by_labels.values())


class AlertmanagerNotifier:
    """POSTs ``{"alerts": [...]}`` batches (stored that way) to ``url/api/v2/alerts``."""

    name = "alertmanager"
    send_resolved = True

    def __init__(self, config: AlertmanagerConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session

    async def deliver(self, payload: Payload, now: float) -> None:
        """POST the batch."""
        url = self._config.url.rstrip("/") + "/api/v2/alerts"
        await post_json(
            self._session, url, payload["alerts"], self._config.http, what="alertmanager", now=now
        )
