"""``telegram_configs[]`` and ``global.telegram_api_url``, as Alertmanager reads them.

Keys and checks are Alertmanager's (``config/notifiers.go`` ``TelegramConfig``), written once
on ``TelegramConfig``: ``bot_token`` (or ``bot_token_file``) and a non-zero integer ``chat_id``
are required; ``parse_mode`` is ``Markdown``, ``MarkdownV2``, ``HTML`` (the default) or empty;
``api_url`` defaults to ``global.telegram_api_url``.
https://prometheus.io/docs/alerting/latest/configuration/#telegram_config
"""

from __future__ import annotations

from typing import Any

from watcher.config.amchecks import checked, global_config
from watcher.config.model import TelegramConfig
from watcher.validate import Invalid, Schema


def _check(value: dict[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    value.setdefault("chat_id", 0)  # refused by its hook: "missing chat_id"
    value.setdefault("api_url", global_config().telegram_api_url)
    return value, []


def register(schema: Schema) -> None:
    """Add Telegram's global default to ``schema``."""
    checked(schema, TelegramConfig, _check)
