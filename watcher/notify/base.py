"""The types every integration shares: ``Payload``, the ``Deliverer``/``Notifier`` seam, ``Target``.

Integrations import this module; ``watcher.notify.integrations`` imports the integrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, Unpack

import aiohttp

from watcher.alerts import Alert
from watcher.config import HttpConfig
from watcher.gotemplate import Templates
from watcher.notify.data import NotificationData
from watcher.notify.post import PostOptions, post_json

Payload = dict[str, Any]


class Deliverer(Protocol):
    """Delivers a stored payload."""

    @property
    def name(self) -> str:
        """Integration name: ``slack``, ``webhook``, ``console``, ``alertmanager``."""
        ...

    async def deliver(self, payload: Payload, now: float) -> None:
        """Send ``payload``; raise ``NotifyError`` on failure."""
        ...


class Notifier(Deliverer, Protocol):
    """Renders a group's notification once (stored in the outbox) and delivers it later."""

    @property
    def send_resolved(self) -> bool:
        """Whether resolved alerts are sent."""
        ...

    def render(self, data: NotificationData) -> Payload:
        """The JSON-able body to store and later deliver."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """A notifier and its place: receiver name, integration name, index in its list."""

    receiver: str
    index: int
    notifier: Notifier
    timeout: float = 0.0  # per request (the integration's ``timeout``); 0 = none

    @property
    def id(self) -> str:
        """``receiver/integration[index]``, as Alertmanager names an integration."""
        return f"{self.receiver}/{self.notifier.name}[{self.index}]"

    @property
    def key(self) -> tuple[str, str, int]:
        """(receiver, integration, index): how outbox rows name their target."""
        return (self.receiver, self.notifier.name, self.index)


class _HttpEntry(Protocol):
    @property
    def send_resolved(self) -> bool: ...

    @property
    def http(self) -> HttpConfig: ...


C = TypeVar("C", bound=_HttpEntry)


class HttpNotifier(Generic[C]):
    """What every HTTP notifier shares: its ``*_configs`` entry, the session, the templates,
    and the POST of a payload with the entry's ``http_config``."""

    #: the integration's name (``slack``), also what its delivery errors start with
    name: str

    def __init__(
        self, config: C, session: aiohttp.ClientSession, templates: Templates | None = None
    ) -> None:
        self._config = config
        self._session = session
        self._templates = templates

    @property
    def send_resolved(self) -> bool:
        """The entry's ``send_resolved`` (each config class has Alertmanager's default)."""
        return self._config.send_resolved

    async def _post(
        self, url: str, body: object, now: float, **options: Unpack[PostOptions]
    ) -> None:
        """Send ``body`` to ``url`` with the entry's ``http_config`` (``post_json``)."""
        await post_json(
            self._session, url, body, self._config.http, what=self.name, now=now, **options
        )


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """An active alert as ``GET /api/v2/alerts`` and the status page show it."""

    alert: Alert
    state: str  # "active" or "suppressed"
    silenced_by: tuple[str, ...]
    inhibited_by: tuple[str, ...]
    receivers: tuple[str, ...]
    updated_at: float
    ends_at: float
