"""Secret scan: recognisable secrets through every path, errors included, appear nowhere.

A real daemon runs with marked secrets in every place a secret can be given: CoinW keys, a
TradeBoss bearer token, a webhook URL with ``user:password@`` and ``?key=``, a Slack URL with its
token path, an Alertmanager receiver with basic auth, a receiver behind TLS that fails, a
PagerDuty routing key, an Opsgenie API key and a Teams webhook URL. Its
upstream answers every request with an error that quotes the headers it got (as a gateway that
echoes ``Authorization`` would), every receiver fails, and a reload with a broken config that
holds the secrets is refused. Then the logs, ``/metrics``, the status page and its parts,
``/api/v2/*``, ``/api/v1/query``, ``/graph``, the reload answer and the SQLite files are
searched for every secret: zero hits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import Writer
from tests.e2e import Daemon, free_port
from tests.reliability import record

pytestmark = pytest.mark.e2e
SECRETS = {
    "coinw api_key": "KEYSCAN1a2b3c",
    "coinw secret_key": "SECSCAN4d5e6f",
    "tradeboss token": "TOKSCAN7g8h9i",
    "webhook password": "PWSCANj0k1l2",
    "webhook query key": "QKSCANm3n4o5",
    "slack token": "SLKSCANp6q7r8",
    "alertmanager password": "AMSCANs9t0u1",
    "pagerduty routing key": "PDSCANv2w3x4",
    "opsgenie api key": "OGSCANy5z6a7",
    "msteams url token": "MSSCANb8c9d0",
    "coinw push passphrase": "PPSCANe1f2g3",
    "smtp password": "SMSCANe1f2g3",
    "smtp cram secret": "SSSCANh4i5j6",
    "telegram bot token": "TGSCANk7l8m9",
}


async def echo_upstream(request: web.Request) -> web.Response:
    """Every answer an error quoting the request's headers and body back."""
    quoted = " ".join(f"{k}={v}" for k, v in request.headers.items())
    body = await request.text()
    if request.path.startswith("/api/cats-gateway"):
        answer = {"code": "G401", "ok": False, "msg": f"unauthorized: {quoted} {body}"}
    else:
        answer = {"code": 6001, "msg": f"invalid signature: {quoted}"}
    return web.json_response(answer)


async def echo_websocket(request: web.Request) -> web.WebSocketResponse:
    """CoinW's WebSocket refusing every login, quoting the login frame (key, passphrase) back."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        quoted = json.dumps(msg.data)
        answer = {"channel": "login", "data": {"result": False, "errorMsg": f"bad {quoted}"}}
        await ws.send_str(json.dumps(answer))
    return ws


async def failing_receiver(request: web.Request) -> web.Response:
    """A receiver that fails, quoting what it was sent (URL and auth included)."""
    return web.Response(status=500, text=f"no: {request.url} {dict(request.headers)}")


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[int, int]]:
    app = web.Application()
    app.router.add_get("/perpum", echo_websocket)
    app.router.add_route("*", "/{tail:.*}", echo_upstream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver = web.Application()
    receiver.router.add_route("*", "/{tail:.*}", failing_receiver)
    rrunner = web.AppRunner(receiver, access_log=None)
    await rrunner.setup()
    await web.TCPSite(rrunner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1], rrunner.addresses[0][1]
    await rrunner.cleanup()
    await runner.cleanup()


def config(write: Writer, port: int, up: int, rx: int, *, broken: bool = False) -> str:
    s = SECRETS
    return f"""\
global: {{evaluation_interval: 1s, external_url: "http://127.0.0.1:{port}"}}
server: {{listen: "127.0.0.1:{port}"}}
storage: {{path: {write.root}/state.db}}
sources:
  - {{name: coupons, type: coinw_mega_coupon, base_url: "http://127.0.0.1:{up}",
     api_key: {s["coinw api_key"]}, secret_key: {s["coinw secret_key"]}, statuses: [unused],
     interval: {"soon" if broken else "2s"},
     push: {{enabled: true, url: "ws://127.0.0.1:{up}/perpum", passphrase: {s["coinw push passphrase"]},
            min_backoff: 200ms, max_backoff: 1s}}}}
  - name: wallet
    type: tradeboss_balance
    base_url: http://127.0.0.1:{up}
    company_id: 7
    headers: {{Authorization: "Bearer {s["tradeboss token"]}"}}
    interval: 2s
    accounts: [{{third_server_code: tsc-1, user_name: "86000001", currency: HKD}}]
rule_files: [rules/*.yaml]
route:
  receiver: all
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
receivers:
  - name: all
    webhook_configs:
      - url: "http://hook:{s["webhook password"]}@127.0.0.1:{rx}/hook?key={s["webhook query key"]}"
      - url: "https://127.0.0.1:{rx}/tls-to-a-plain-server?key={s["webhook query key"]}"
    slack_configs:
      - api_url: "http://127.0.0.1:{rx}/services/T000/B000/{s["slack token"]}"
    alertmanager_configs:
      - url: "http://127.0.0.1:{rx}"
        http_config: {{basic_auth: {{username: am, password: {s["alertmanager password"]}}}}}
    pagerduty_configs:
      - {{url: "http://127.0.0.1:{rx}/v2/enqueue", routing_key: {s["pagerduty routing key"]}}}
    opsgenie_configs:
      - {{api_url: "http://127.0.0.1:{rx}/", api_key: {s["opsgenie api key"]}}}
    msteams_configs:
      - webhook_url: "http://127.0.0.1:{rx}/webhookb2/{s["msteams url token"]}"
    email_configs:
      - {{to: a@example.org, from: w@example.org, smarthost: "127.0.0.1:{rx}", require_tls: false,
         auth_username: u, auth_password: {s["smtp password"]}, auth_secret: {s["smtp cram secret"]}}}
    telegram_configs:
      - {{api_url: "http://127.0.0.1:{rx}", bot_token: "1:{s["telegram bot token"]}", chat_id: 7}}
"""


RULES = """\
groups:
  - name: always
    rules:
      - alert: Always
        expr: vector(1)
        annotations: {summary: "always firing"}
      - alert: SourceDown
        expr: watcher_source_up == 0
"""


def state_files(root: Path) -> dict[str, str]:
    """The SQLite file and its WAL, as text."""
    return {db.name: db.read_bytes().decode("latin-1") for db in root.glob("state.db*")}


def hits(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


async def test_no_secret_anywhere(write: Writer, upstream: tuple[int, int]) -> None:
    """Every path exercised, every output searched: no secret shows up."""
    up, rx = upstream
    port = free_port()
    write("rules/r.yaml", RULES)
    path = write("watcher.yaml", config(write, port, up, rx))
    daemon = Daemon(path, port)
    await daemon.start()
    assert daemon.proc is not None
    assert daemon.proc.stdout is not None
    assert daemon.proc.stderr is not None
    # Read the logs as they come: a full pipe would stall the daemon.
    out, err = (asyncio.create_task(s.read()) for s in (daemon.proc.stdout, daemon.proc.stderr))
    seen: dict[str, str] = {}
    try:
        await daemon.wait_for(
            lambda m: (
                m.get('watcher_notifications_failed_total{integration="webhook",receiver="all"}', 0)
                >= 2
                and m.get('watcher_source_errors_total{reason="api_error",source="wallet"}', 0) >= 1
                and m.get('watcher_source_errors_total{reason="auth",source="coupons"}', 0) >= 1
                and m.get(
                    'watcher_source_push_reconnects_total{reason="login_failed",source="coupons"}',
                    0,
                )
                >= 1
            ),
            timeout=60,
        )
        for endpoint in (
            "/metrics", "/", "/page/parts", "/api/v2/status", "/api/v2/alerts",
            "/api/v2/alerts/groups", "/api/v2/receivers", "/api/v2/silences",
            "/api/v1/query?query=watcher_source_up", "/graph?g0.expr=vector(1)",
        ):  # fmt: skip
            status, text = await daemon.get(endpoint)
            assert 200 == status, endpoint
            seen[endpoint] = text
        # the echoing errors did reach the page, with the quoted key taken out
        assert "invalid signature" in seen["/"]
        assert "api_key: &lt;redacted&gt;" in seen["/"] or "api_key=&lt;redacted&gt;" in seen["/"]
        path.write_text(config(write, port, up, rx, broken=True))
        _, seen["POST /-/reload"] = await daemon.post("/-/reload")
        assert "soon" in seen["POST /-/reload"]
    finally:
        daemon.proc.terminate()
        await asyncio.wait_for(daemon.proc.wait(), 20)
    seen["stdout"] = (await out).decode(errors="replace")
    seen["stderr"] = (await err).decode(errors="replace")
    assert "webhook" in seen["stderr"]  # the failures were logged
    assert "login_failed" in seen["stderr"]  # and the refused push login, its echo cleaned
    seen.update(state_files(write.root))
    found = {where: hits(text) for where, text in seen.items() if hits(text)}
    assert {} == found
    record("security", "secret scan: logs, /metrics, /, /api/*, /graph, reload, SQLite",
           {"places_searched": len(seen), "secrets": len(SECRETS), "hits": 0})  # fmt: skip
