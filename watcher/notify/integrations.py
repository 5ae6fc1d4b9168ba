"""Which notifier serves which ``*_configs`` list of a receiver: one table, one row each.

A new integration adds its row to ``_BUILDERS``; ``alertmanager_configs`` are not here because
they are forwarded as alerts, not rendered as notifications (``watcher.notify.alertmanager``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import aiohttp

from watcher.config import ReceiverConfig
from watcher.gotemplate import Templates
from watcher.notify.base import Deliverer, Notifier, Payload, Target
from watcher.notify.console import ConsoleNotifier
from watcher.notify.email import EmailNotifier
from watcher.notify.msteams import MsteamsNotifier
from watcher.notify.opsgenie import OpsgenieNotifier
from watcher.notify.pagerduty import PagerdutyNotifier
from watcher.notify.slack import SlackNotifier
from watcher.notify.telegram import TelegramNotifier
from watcher.notify.webhook import WebhookNotifier

__all__ = ["Deliverer", "Notifier", "Payload", "Target", "build_targets"]


@dataclass(frozen=True, slots=True)
class _Env:
    """What a notifier may need besides its own config."""

    session: aiohttp.ClientSession
    console: TextIO
    templates: Templates | None


@dataclass(frozen=True, slots=True)
class _Builder:
    configs: Callable[[ReceiverConfig], Sequence[Any]]
    make: Callable[[Any, _Env], Notifier]
    timeout: Callable[[Any], float] = lambda _c: 0.0


def _http_timeout(c: Any) -> float:
    return float(c.timeout or c.http.timeout)


_BUILDERS: tuple[_Builder, ...] = (
    _Builder(
        lambda r: r.slack_configs,
        lambda c, env: SlackNotifier(c, env.session, env.templates),
        _http_timeout,
    ),
    _Builder(
        lambda r: r.webhook_configs,
        lambda c, env: WebhookNotifier(c, env.session),
        _http_timeout,
    ),
    _Builder(
        lambda r: r.pagerduty_configs,
        lambda c, env: PagerdutyNotifier(c, env.session, env.templates),
        lambda c: float(c.http.timeout),
    ),
    _Builder(
        lambda r: r.opsgenie_configs,
        lambda c, env: OpsgenieNotifier(c, env.session, env.templates),
        lambda c: float(c.http.timeout),
    ),
    _Builder(
        lambda r: r.msteams_configs,
        lambda c, env: MsteamsNotifier(c, env.session, env.templates),
        lambda c: float(c.http.timeout),
    ),
    _Builder(lambda r: r.console_configs, lambda c, env: ConsoleNotifier(c, env.console)),
    _Builder(lambda r: r.email_configs, lambda c, env: EmailNotifier(c, env.templates)),
    _Builder(
        lambda r: r.telegram_configs,
        lambda c, env: TelegramNotifier(c, env.session, env.templates),
        lambda c: float(c.http.timeout),
    ),
)


def build_targets(
    receiver: ReceiverConfig,
    session: aiohttp.ClientSession,
    console: TextIO,
    templates: Templates | None = None,
) -> list[Target]:
    """Every notifier of ``receiver`` except ``alertmanager_configs`` (forwarded separately)."""
    env = _Env(session, console, templates)
    return [
        Target(receiver.name, i, b.make(c, env), b.timeout(c))
        for b in _BUILDERS
        for i, c in enumerate(b.configs(receiver))
    ]
