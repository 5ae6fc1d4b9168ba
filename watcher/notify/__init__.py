"""Notifications: an embedded Alertmanager (routing, grouping, silences, inhibition, dedup)
with a SQLite outbox in front of Slack, webhooks, Alertmanagers and the console."""

from __future__ import annotations

from watcher.notify.dispatch import AlertStatus, Dispatcher
from watcher.notify.redelivery import RetryPolicy, set_testing
from watcher.notify.silences import Silence

__all__ = [
    "AlertStatus",
    "Dispatcher",
    "RetryPolicy",
    "Silence",
    "set_testing",
]
