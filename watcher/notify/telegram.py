"""``telegram_configs``: the Bot API ``sendMessage`` call Alertmanager's Telegram notifier makes.

As ``notify/telegram/telegram.go`` (0.25) with its client (telebot v3): POST
``<api_url>/bot<token>/sendMessage`` with a JSON object of strings, keys in Go's map order
(sorted): ``chat_id``, ``disable_notification`` ("true" when set), ``disable_web_page_preview``
("true", always), ``parse_mode`` (unless empty), ``text``: the ``message`` template, through
Go's ``html/template`` escaping when ``parse_mode`` is ``HTML``, cut to 4096 runes.
https://core.telegram.org/bots/api#sendmessage
"""

from __future__ import annotations

import structlog

from watcher.config.model import TelegramConfig
from watcher.gotemplate import ExecError, Templates
from watcher.gotemplate.alertmanager import load_templates, template_data
from watcher.notify.base import HttpNotifier, Payload
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.slack import truncate_runes

log = structlog.get_logger(__name__)

MAX_MESSAGE_RUNES = 4096  # Telegram's limit, https://limits.tginfo.me/en


def telegram_payload(
    config: TelegramConfig, data: NotificationData, templates: Templates | None = None
) -> Payload:
    """The ``sendMessage`` parameters."""
    templates = templates or load_templates()
    run = templates.execute_html if config.parse_mode == "HTML" else templates.execute_text
    try:
        text = run(config.message, template_data(data))
    except ExecError as exc:
        # Alertmanager drops the notification; a message with the error in it is better.
        log.warning("notify.template_failed", integration="telegram", key="message", error=str(exc))
        text = str(exc)
    params = {"chat_id": str(config.chat_id)}
    if config.disable_notifications:
        params["disable_notification"] = "true"
    params["disable_web_page_preview"] = "true"
    if config.parse_mode:
        params["parse_mode"] = config.parse_mode
    params["text"] = truncate_runes(text, MAX_MESSAGE_RUNES)
    return params


class TelegramNotifier(HttpNotifier[TelegramConfig]):
    """POSTs ``sendMessage`` to the Bot API; the token is in the URL, so it is a secret."""

    name = "telegram"

    def render(self, data: NotificationData) -> Payload:
        """The ``sendMessage`` parameters."""
        return telegram_payload(self._config, data, self._templates)

    async def deliver(self, payload: Payload, now: float) -> None:
        """POST them as Go's ``json.Encoder`` writes them (``encode`` ends in its newline)."""
        url = f"{self._config.api_url}/bot{self._config.bot_token.get()}/sendMessage"
        await self._post(url, encode(payload), now)
