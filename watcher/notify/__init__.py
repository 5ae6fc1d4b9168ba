"""Notifications: an embedded Alertmanager (routing, grouping, silences, inhibition, dedup)
with a SQLite outbox in front of Slack, webhooks, Alertmanagers and the console."""

from __future__ import annotations

from watcher.notify.api import add_api_routes, redacted_config
from watcher.notify.dispatch import AlertStatus, Dispatcher
from watcher.notify.retry import RetryPolicy, set_testing
from watcher.notify.silences import Silence

__all__ = [
    "AlertStatus",
    "Dispatcher",
    "RetryPolicy",
    "Silence",
    "add_api_routes",
    "redacted_config",
    "set_testing",
]
