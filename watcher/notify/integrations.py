"""The ``Notifier`` seam: one per entry of a receiver's ``*_configs`` lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import aiohttp

from watcher.config import ReceiverConfig
from watcher.gotemplate import Templates
from watcher.notify.data import NotificationData

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


def build_targets(
    receiver: ReceiverConfig,
    session: aiohttp.ClientSession,
    console: TextIO,
    templates: Templates | None = None,
) -> list[Target]:
    """Every notifier of ``receiver`` except ``alertmanager_configs`` (forwarded separately)."""
    from watcher.notify.console import ConsoleNotifier  # noqa: PLC0415 - avoid an import cycle
    from watcher.notify.email import EmailNotifier  # noqa: PLC0415
    from watcher.notify.slack import SlackNotifier  # noqa: PLC0415
    from watcher.notify.telegram import TelegramNotifier  # noqa: PLC0415
    from watcher.notify.webhook import WebhookNotifier  # noqa: PLC0415

    out: list[Target] = []
    out += [
        Target(receiver.name, i, SlackNotifier(c, session, templates), c.timeout or c.http.timeout)
        for i, c in enumerate(receiver.slack_configs)
    ]
    out += [
        Target(receiver.name, i, WebhookNotifier(c, session), c.timeout or c.http.timeout)
        for i, c in enumerate(receiver.webhook_configs)
    ]
    out += [
        Target(receiver.name, i, EmailNotifier(c, templates))
        for i, c in enumerate(receiver.email_configs)
    ]
    out += [
        Target(receiver.name, i, TelegramNotifier(c, session, templates), c.http.timeout)
        for i, c in enumerate(receiver.telegram_configs)
    ]
    out += [
        Target(receiver.name, i, ConsoleNotifier(c, console))
        for i, c in enumerate(receiver.console_configs)
    ]
    return out
