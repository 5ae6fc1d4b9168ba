"""HTTP: /metrics, health and readiness, reload, and a small status page.

The Alertmanager-compatible ``/api/v2/*`` routes are added by ``watcher.notify``.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from aiohttp import web

from watcher import __version__
from watcher.exposition import metrics_handler

if TYPE_CHECKING:
    from watcher.app import Daemon

DAEMON: web.AppKey[Daemon] = web.AppKey("daemon")


def add_routes(app: web.Application) -> None:
    """Register the daemon's own routes."""
    daemon = app[DAEMON]
    app.router.add_get(
        "/metrics", metrics_handler(daemon.store, daemon.self_registry, daemon.registry)
    )
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)
    app.router.add_put("/-/reload", reload)
    app.router.add_get("/", status_page)


async def healthy(_request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.Response(text="Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    """Readiness: config loaded and every source polled once (successfully or not)."""
    if request.app[DAEMON].ready:
        return web.Response(text="Ready.\n")
    return web.Response(text="Not ready: waiting for the first poll of every source.\n", status=503)


async def reload(request: web.Request) -> web.Response:
    """Reload config and rules, like SIGHUP; 500 with the reason when the new config is invalid."""
    if await request.app[DAEMON].reload():
        return web.Response(text="Reloaded.\n")
    return web.Response(
        text="Reload failed: the config is invalid; see the log. The old config keeps running.\n",
        status=500,
    )


def _ago(ts: float | None) -> str:
    if ts is None:
        return "never"
    return f"{time.time() - ts:.0f}s ago"


async def status_page(request: web.Request) -> web.Response:
    """Sources, last poll, errors, active alerts and silences, as plain HTML."""
    daemon = request.app[DAEMON]
    rows = []
    for name, runner in sorted(daemon.runners.items()):
        up = (
            "up"
            if runner.polls and runner.last_error is None
            else ("waiting" if not runner.polls else "DOWN")
        )
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(runner.source.config.type)}</td>"
            f"<td class='{up}'>{up}</td><td>{_ago(runner.last_poll_at)}</td>"
            f"<td>{_ago(runner.last_success_at)}</td><td>{html.escape(runner.last_error or '')}</td></tr>"
        )
    alerts = [
        f"<tr><td>{html.escape(a.state)}</td><td>{html.escape(a.name)}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in sorted(a.labels.items()) if k != 'alertname'))}</td>"
        f"<td>{a.value:g}</td><td>{_ago(a.active_at)}</td></tr>"
        for a in daemon.active_alerts()
    ]
    silences = [
        f"<tr><td>{html.escape(s.id)}</td><td>{html.escape(s.matchers)}</td><td>{html.escape(s.ends)}</td>"
        f"<td>{html.escape(s.comment)}</td></tr>"
        for s in daemon.active_silences()
    ]
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>watcher</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
.DOWN{{color:#b00;font-weight:bold}}.up{{color:#070}}</style></head><body>
<h1>watcher {html.escape(__version__)}</h1>
<p><a href="/metrics">/metrics</a> · <a href="/api/v2/alerts">/api/v2/alerts</a> ·
<a href="/api/v2/silences">/api/v2/silences</a></p>
<h2>Sources</h2><table><tr><th>name</th><th>type</th><th>state</th><th>last poll</th>
<th>last success</th><th>last error</th></tr>{"".join(rows)}</table>
<h2>Active alerts ({len(alerts)})</h2><table><tr><th>state</th><th>alert</th><th>labels</th>
<th>value</th><th>active since</th></tr>{"".join(alerts)}</table>
<h2>Silences ({len(silences)})</h2><table><tr><th>id</th><th>matchers</th><th>ends</th>
<th>comment</th></tr>{"".join(silences)}</table></body></html>"""
    return web.Response(text=body, content_type="text/html")
