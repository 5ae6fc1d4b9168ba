"""Telegram ``sendMessage`` bodies byte-identical to real Alertmanager's.

A real ``prometheus-alertmanager`` (0.25 has ``telegram_configs``) and the watcher's dispatcher,
with the same receivers, post the same alerts to a local fake Bot API; per receiver (its bot
token is in the path) the request body must be the same bytes.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from tests.am_support import needs_alertmanager, poll, post_alerts, run_alertmanager
from watcher.alerts import Alert
from watcher.clock import FakeClock
from watcher.config import parse_config
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher
from watcher.notify.data import rfc3339
from watcher.state import open_db

EXTERNAL_URL = "http://am.example:9093"
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


def _config(api_url: str, global_yaml: str = "") -> str:
    routes = "\n".join(
        f"    - {{receiver: 'tg {i}', matchers: ['alertname=~\".+\"'], continue: true}}"
        for i in range(len(RECEIVERS))
    )
    receivers = "\n".join(
        f"  - name: 'tg {i}'\n    telegram_configs:\n"
        f"      - api_url: '{api_url}'\n        bot_token: 'tok{i}:SECRET'\n"
        f"        chat_id: -100123456789{i}\n        {keys}"
        for i, keys in enumerate(RECEIVERS)
    )
    return (
        f"{global_yaml}"
        "templates: ['*.tmpl']\n"
        "route:\n  receiver: 'tg 0'\n  group_by: [alertname]\n  group_wait: 1s\n"
        f"  group_interval: 1h\n  repeat_interval: 4h\n  routes:\n{routes}\n"
        f"receivers:\n{receivers}\n"
    )


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


class BotApi:
    """A fake Bot API: records each ``sendMessage`` path and body, answers like Telegram."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append((request.path, await request.read()))
        return web.json_response(
            {"ok": True, "result": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "group"}}}
        )


async def _serve(api: BotApi) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@needs_alertmanager
async def test_telegram_bodies_are_byte_identical_to_alertmanagers(tmp_path: Path) -> None:
    """Defaults (HTML), no parse mode, MarkdownV2 silent, an HTML file template, a message
    cut at 4096 runes: the watcher's sendMessage bodies equal Alertmanager's bytes."""
    (tmp_path / "tg.tmpl").write_text(TEMPLATE_FILE)
    theirs, ours = BotApi(), BotApi()
    runner, url = await _serve(theirs)
    try:
        async with run_alertmanager(
            tmp_path, _config(url), f"--web.external-url={EXTERNAL_URL}"
        ) as am:
            now = time.time()
            alerts = _alerts(now)
            await post_alerts(
                am,
                [
                    {
                        "labels": dict(a.labels),
                        "annotations": dict(a.annotations),
                        "startsAt": rfc3339(a.starts_at),
                        **({"endsAt": rfc3339(a.ends_at)} if a.ends_at else {}),
                        "generatorURL": a.generator_url,
                    }
                    for a in alerts
                ],
            )
            await poll(lambda: len(theirs.bodies) >= len(RECEIVERS))
    finally:
        await runner.cleanup()

    runner, url = await _serve(ours)
    try:
        watcher_yaml = _config(url, f"global: {{external_url: '{EXTERNAL_URL}'}}\n")
        config = parse_config(watcher_yaml, tmp_path / "watcher.yaml")
        clock = FakeClock(now)
        async with aiohttp.ClientSession() as session:
            d = Dispatcher(
                config,
                db=open_db(str(tmp_path / "w.db")),
                session=session,
                clock=clock,
                console=io.StringIO(),
                metrics=WatcherMetrics(CollectorRegistry()),
            )
            await d.send(alerts, clock.time())
            clock.advance(2)
            await d.tick()
            await d.deliver_due()
    finally:
        await runner.cleanup()

    assert len(RECEIVERS) == len(ours.bodies)
    assert sorted(theirs.bodies) == sorted(ours.bodies)
