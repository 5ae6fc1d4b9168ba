"""Samples over time: the in-memory history, its retention, and the SQLite copy behind it."""

from __future__ import annotations

from watcher.history.memory import SampleHistory
from watcher.history.points import Points
from watcher.history.retention import LOOKBACK_MS, Retention, required_retention
from watcher.history.stale import STALE_NAN, is_stale
from watcher.history.view import HistoryView

__all__ = [
    "LOOKBACK_MS",
    "STALE_NAN",
    "HistoryView",
    "Points",
    "Retention",
    "SampleHistory",
    "is_stale",
    "required_retention",
]
