"""Notifications: an embedded Alertmanager (routing, grouping, silences, inhibition, dedup)
with a SQLite outbox in front of Slack, webhooks, Alertmanagers and the console."""

from __future__ import annotations

from watcher.notify.dispatch import AlertStatus, Dispatcher
from watcher.notify.redelivery import DeliveryPolicy
from watcher.notify.silences import Silence

__all__ = [
    "AlertStatus",
    "DeliveryPolicy",
    "Dispatcher",
    "Silence",
]
