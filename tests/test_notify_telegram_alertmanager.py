"""Telegram ``sendMessage`` bodies byte-identical to real Alertmanager's.

A real ``prometheus-alertmanager`` (0.25 has ``telegram_configs``) and the watcher's dispatcher,
with the same receivers, post the same alerts to a local fake Bot API; per receiver (its bot
token is in the path) the request body must be the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.am_sink import Request, fan_out, run_both
from tests.am_support import needs_alertmanager
from watcher.alerts import Alert

TEMPLATE_FILE = r"""
{{ define "tg.html" }}<b>{{ .CommonLabels.alertname }}</b> {{ .Status | toUpper }}
{{ range .Alerts }}• <a href="{{ .GeneratorURL }}">{{ .Labels.instance }}</a> {{ .Annotations.summary }}
{{ end }}<a href="{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}">all</a>{{ end }}
"""
# The keys of each receiver's one telegram_configs entry, after bot_token and chat_id.
RECEIVERS = [
    "send_resolved: true",
    """parse_mode: ''
        message: '{{ range .Alerts }}{{ .Labels.instance }} <{{ .Status }}> & {{ .Annotations.summary }}{{ "\\n" }}{{ end }}'""",
    """parse_mode: MarkdownV2
        disable_notifications: true
        message: '*{{ .CommonLabels.alertname }}* {{ len .Alerts.Firing }}'""",
    """message: '{{ template "tg.html" . }}'""",
    """parse_mode: Markdown
        message: '{{ range .Alerts }}{{ .Annotations.long }}{{ end }}'""",
]


def _config(api_url: str) -> str:
    configs = {
        f"tg {i}": f"api_url: '{api_url}'\n        bot_token: 'tok{i}:SECRET'\n"
        f"        chat_id: -100123456789{i}\n        {keys}"
        for i, keys in enumerate(RECEIVERS)
    }
    return "templates: ['*.tmpl']\n" + fan_out("telegram_configs", configs)


def _alerts(now: float) -> list[Alert]:
    start = round(now, 3)
    common = {"summary": "Balance <low> & 'falling' ☃", "long": "ж" * 1500}
    return [
        Alert(
            {"alertname": "Balance", "job": "tb", "instance": "acct-1 <x>"},
            common,
            start,
            None,
            1.0,
            "http://prom.example/graph?g0.expr=a&g0.tab=1",
        ),
        Alert(
            {"alertname": "Balance", "job": "tb", "instance": "acct-2"},
            common,
            start + 0.125,
            None,
            2.0,
            "http://prom.example/graph?g0.expr=b",
        ),
        Alert(
            {"alertname": "Balance", "job": "tb", "instance": "acct-3"},
            common,
            start,
            start + 0.5,
            3.0,
            "",
        ),
    ]


def _sent() -> web.Response:
    """What the Bot API answers a ``sendMessage``."""
    return web.json_response(
        {"ok": True, "result": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "group"}}}
    )


def _bodies(requests: list[Request]) -> list[tuple[str, bytes]]:
    """(path, body) of each ``sendMessage``: the bot token is in the path."""
    return sorted((q.path, q.body) for q in requests)


@needs_alertmanager
async def test_telegram_bodies_are_byte_identical_to_alertmanagers(tmp_path: Path) -> None:
    """Defaults (HTML), no parse mode, MarkdownV2 silent, an HTML file template, a message
    cut at 4096 runes: the watcher's sendMessage bodies equal Alertmanager's bytes."""
    theirs, ours = await run_both(
        tmp_path,
        _config,
        first=len(RECEIVERS),
        template_file=TEMPLATE_FILE,
        make_alerts=_alerts,
        reply=_sent,
    )
    assert len(RECEIVERS) == len(ours)
    assert _bodies(theirs) == _bodies(ours)
