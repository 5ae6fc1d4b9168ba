"""telegram_configs: config checks, the token kept secret, errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from structlog.testing import capture_logs

from tests.am_support import free_port
from watcher.alerts import Alert
from watcher.config import Config, parse_config
from watcher.errors import ConfigError, NotifyError
from watcher.notify.amconfig import alertmanager_yaml
from watcher.notify.data import NotificationData
from watcher.notify.telegram import TelegramNotifier

T0 = 1_700_000_000.0
TOKEN = "123456:AAH-very-secret-token"
ALERT = Alert({"alertname": "Low", "instance": "a<1>"}, {}, T0 - 60, None, 1.0, "")


def _data() -> NotificationData:
    return NotificationData("tg", "k", {"alertname": "Low"}, (ALERT,), "http://w", T0)


def _config(tmp_path: Path, entry: str) -> Config:
    text = (
        "route: {receiver: tg}\n"
        f"receivers:\n  - name: tg\n    telegram_configs:\n      - {entry}\n"
    )
    return parse_config(text, tmp_path / "watcher.yaml")


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    """No chat_id, an unknown parse_mode and a broken message template are each reported."""
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, "{bot_token: x, parse_mode: html, message: '{{ if }}'}")
    problems = "\n".join(info.value.problems)
    assert "telegram_configs[0].chat_id: missing chat_id on telegram_config" in problems
    assert 'telegram_configs[0].parse_mode: unknown parse_mode "html"' in problems
    assert "telegram_configs[0].message: template: :1:" in problems


async def test_bot_token_file_and_api_url_are_used(tmp_path: Path) -> None:
    """bot_token_file is read; the request goes to <api_url>/bot<token>/sendMessage."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    paths: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        paths.append(request.path)
        return web.json_response({"ok": True, "result": {}})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        config = _config(
            tmp_path, f"{{bot_token_file: token, chat_id: 42, api_url: 'http://127.0.0.1:{port}'}}"
        )
        async with aiohttp.ClientSession() as session:
            n = TelegramNotifier(config.receivers[0].telegram_configs[0], session)
            payload = n.render(_data())
            await n.deliver(payload, T0)
    finally:
        await runner.cleanup()
    assert [f"/bot{TOKEN}/sendMessage"] == paths
    assert "a&lt;1&gt;" in payload["text"]  # parse_mode HTML escapes label values


async def test_a_dead_api_names_no_token(tmp_path: Path) -> None:
    """Nothing listening: a NotifyError to retry; the token is in neither it nor the logs."""
    config = _config(
        tmp_path,
        f"{{bot_token: '{TOKEN}', chat_id: 42, api_url: 'http://127.0.0.1:{free_port()}'}}",
    )
    async with aiohttp.ClientSession() as session:
        n = TelegramNotifier(config.receivers[0].telegram_configs[0], session)
        with capture_logs() as logs, pytest.raises(NotifyError) as info:
            await n.deliver(n.render(_data()), T0)
    assert not info.value.permanent
    assert TOKEN not in str(info.value) + repr(logs)
    assert TOKEN not in alertmanager_yaml(config)
    (entry,) = yaml.safe_load(alertmanager_yaml(config))["receivers"][0]["telegram_configs"]
    assert ("<secret>", 42) == (entry["bot_token"], entry["chat_id"])
