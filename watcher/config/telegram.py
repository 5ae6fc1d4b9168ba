"""``telegram_configs[]`` and ``global.telegram_api_url``, as Alertmanager reads them.

Keys and checks are Alertmanager's (``config/notifiers.go`` ``TelegramConfig``): ``bot_token``
(or ``bot_token_file``, which Alertmanager has from 0.26) and a non-zero integer ``chat_id``
are required; ``parse_mode`` is ``Markdown``, ``MarkdownV2``, ``HTML`` (the default) or empty;
``message`` defaults to ``telegram.default.message`` and is parsed at load; ``send_resolved``
defaults to true. https://prometheus.io/docs/alerting/latest/configuration/#telegram_config
"""

from __future__ import annotations

import re
from collections.abc import Callable

from watcher.config.model import HttpConfig, TelegramConfig
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import check_text
from watcher.yamlpos import Path

GLOBAL_KEYS = frozenset({"telegram_api_url"})
DEFAULT_API_URL = TelegramConfig.api_url
DEFAULT_MESSAGE = TelegramConfig.message
PARSE_MODES = ("Markdown", "MarkdownV2", "HTML", "")
_KEYS = {
    "api_url",
    "bot_token",
    "bot_token_file",
    "chat_id",
    "message",
    "disable_notifications",
    "parse_mode",
    "send_resolved",
    "http_config",
}
_URL = re.compile(r"^https?://[^\s/]+")


def read_telegram(
    r: Reader, p: Path, templates: Templates, http: Callable[[Path], HttpConfig]
) -> TelegramConfig | None:
    """One ``telegram_configs[]`` entry, or None when it has problems (reported on ``r``)."""
    if not r.mapping(p, _KEYS, required=True):
        return None
    token = r.secret(p, "bot_token")
    if token is None:
        return None
    chat_id = r.integer((*p, "chat_id"), 0)
    if chat_id == 0:
        r.problem((*p, "chat_id"), "missing chat_id on telegram_config")
    url_path = (
        (*p, "api_url") if r.get((*p, "api_url")) is not None else ("global", "telegram_api_url")
    )
    api_url = str(r.string(url_path, DEFAULT_API_URL))
    if not _URL.match(api_url):
        r.problem(url_path, f'expected an http(s) URL, got "{api_url}"')
    message = str(r.string((*p, "message"), DEFAULT_MESSAGE, expand=False))
    if message != DEFAULT_MESSAGE and (problem := check_text(templates, message)) is not None:
        r.problem((*p, "message"), problem)
    parse_mode = str(r.string((*p, "parse_mode"), "HTML"))
    if parse_mode not in PARSE_MODES:
        r.problem(
            (*p, "parse_mode"),
            f'unknown parse_mode "{parse_mode}": must be Markdown, MarkdownV2, HTML or empty',
        )
    return TelegramConfig(
        bot_token=token,
        chat_id=chat_id,
        api_url=api_url.rstrip("/"),
        message=message,
        disable_notifications=r.boolean((*p, "disable_notifications"), False),
        parse_mode=parse_mode,
        send_resolved=r.boolean((*p, "send_resolved"), True),
        http=http((*p, "http_config")),
    )
