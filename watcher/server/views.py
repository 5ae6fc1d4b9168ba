"""What the HTTP layer may see of the daemon: narrow, read-mostly views, one per concern.

Route modules take these Protocols, never ``watcher.app.Daemon``: the daemon satisfies them
structurally, tests can hand in a small fake, and no route reaches into a source's config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry

from watcher.alerts import Alert
from watcher.clock import Clock
from watcher.config import Config
from watcher.history import SampleHistory
from watcher.matchers import Matcher
from watcher.notify.dispatch import AlertStatus
from watcher.notify.silences import Silence
from watcher.rules import RuleManager
from watcher.series import Snapshot
from watcher.sources.status import SourceStatus
from watcher.store import SeriesStore
from watcher.webconfig import WebState

__all__ = [
    "AlertSource",
    "GuardView",
    "Notifications",
    "SilenceStore",
    "SourceStatus",
    "StatusView",
]


class AlertSource(Protocol):
    """The embedded Alertmanager's alerts: ``/api/v2/alerts``, groups, status, receivers."""

    @property
    def config(self) -> Config:
        """The running notification config."""
        ...

    @property
    def started_at(self) -> float:
        """When notifications started (``uptime``)."""
        ...

    def alerts(self) -> list[AlertStatus]:
        """Every alert with its silenced/inhibited state and receivers."""
        ...

    async def send(
        self, alerts: Sequence[Alert], now: float, lifetimes: Sequence[float | None] = ()
    ) -> None:
        """Accept alerts (from the rules, or posted, each valid for its lifetime)."""
        ...

    def now(self) -> float:
        """The injected clock's wall time."""
        ...


class SilenceStore(Protocol):
    """Silences: list, get, create or update, expire."""

    def silences(self, filters: Sequence[Matcher] = ()) -> list[Silence]:
        """Silences matching every filter."""
        ...

    def get_silence(self, silence_id: str) -> Silence:
        """One silence; raise ``SilenceNotFoundError``."""
        ...

    def put_silence(self, silence: Silence) -> str:
        """Create or update; return the id; raise ``SilenceError``."""
        ...

    def expire_silence(self, silence_id: str) -> None:
        """Expire now; raise ``SilenceNotFoundError`` or ``SilenceError``."""
        ...

    def now(self) -> float:
        """The injected clock's wall time."""
        ...


class Notifications(AlertSource, SilenceStore, Protocol):
    """Alerts and silences together, as the status page reads them."""


class GuardView(Protocol):
    """What the request guard reads: the web config and the API switches."""

    @property
    def clock(self) -> Clock:
        """The injected clock."""
        ...

    @property
    def web(self) -> WebState:
        """The loaded web config (users, TLS, headers, rate limit)."""
        ...

    @property
    def config(self) -> Config:
        """The running config (``server.api`` switches)."""
        ...


class StatusView(GuardView, Protocol):
    """Everything the status page, ``/graph``, ``/api/v1`` and the lifecycle routes read."""

    @property
    def ready(self) -> bool:
        """Config loaded and every source polled once."""
        ...

    @property
    def rules(self) -> RuleManager:
        """The loaded rule groups and their alerts."""
        ...

    @property
    def store(self) -> SeriesStore:
        """The series store (the page subscribes for its sparklines)."""
        ...

    @property
    def history(self) -> SampleHistory:
        """Samples over time, for range vectors."""
        ...

    @property
    def self_registry(self) -> CollectorRegistry:
        """The watcher's own metrics (``/api/v1/metadata``)."""
        ...

    @property
    def dispatcher(self) -> Notifications:
        """The embedded Alertmanager."""
        ...

    def snapshot(self) -> Snapshot:
        """Every current series, self-metrics included."""
        ...

    def sources(self) -> Sequence[SourceStatus]:
        """Every running source's state."""
        ...

    async def reload(self) -> list[str]:
        """Reload config and rules; the problems, or nothing."""
        ...
