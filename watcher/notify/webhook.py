"""``webhook_configs``: Alertmanager's webhook payload, version 4, field for field.

https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
"""

from __future__ import annotations

from dataclasses import replace

from watcher.alerts import Alert
from watcher.config import WebhookConfig
from watcher.notify.base import HttpNotifier, Payload
from watcher.notify.data import NotificationData, go_json_time, is_resolved


def alert_json(alert: Alert, now: float) -> Payload:
    """One entry of ``alerts[]``; a firing alert's ``endsAt`` is Go's zero time, as upstream."""
    resolved = is_resolved(alert, now)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": go_json_time(alert.starts_at),
        "endsAt": go_json_time(alert.ends_at if resolved else None),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(data: NotificationData, max_alerts: int = 0) -> Payload:
    """The version-4 body; ``max_alerts`` > 0 truncates ``alerts`` and counts the rest."""
    truncated = 0
    if max_alerts and len(data.alerts) > max_alerts:
        # Alertmanager truncates first and builds the template data (status, common labels
        # and annotations) from the alerts it sends (notify/webhook/webhook.go).
        truncated = len(data.alerts) - max_alerts
        data = replace(data, alerts=data.alerts[:max_alerts])
    alerts = data.alerts
    return {
        "receiver": data.receiver,
        "status": data.status,
        "alerts": [alert_json(a, data.now) for a in alerts],
        "groupLabels": dict(data.group_labels),
        "commonLabels": data.common_labels,
        "commonAnnotations": data.common_annotations,
        "externalURL": data.external_url,
        "version": "4",
        "groupKey": data.group_key,
        "truncatedAlerts": truncated,
    }


class WebhookNotifier(HttpNotifier[WebhookConfig]):
    """POSTs the version-4 payload to ``url`` with optional bearer or basic auth."""

    name = "webhook"

    def render(self, data: NotificationData) -> Payload:
        """The webhook body."""
        return webhook_payload(data, self._config.max_alerts)

    async def deliver(self, payload: Payload, now: float) -> None:
        """POST it."""
        await self._post(self._config.url.get(), payload, now)
