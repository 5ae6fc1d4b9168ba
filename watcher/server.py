"""HTTP: /metrics, health and readiness, reload, and the status page (``watcher.page``).

The Alertmanager-compatible ``/api/v2/*`` routes are added by ``watcher.notify``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from watcher.exposition import metrics_handler
from watcher.graph import add_graph_routes
from watcher.page import add_page_routes
from watcher.query import add_query_routes

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
    add_page_routes(app, daemon)
    add_query_routes(app, daemon)
    add_graph_routes(app, daemon)


async def healthy(_request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.Response(text="Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    """Readiness: config loaded and every source polled once (successfully or not)."""
    if request.app[DAEMON].ready:
        return web.Response(text="Ready.\n")
    return web.Response(text="Not ready: waiting for the first poll of every source.\n", status=503)


async def reload(request: web.Request) -> web.Response:
    """Reload config and rules, like SIGHUP; 500 with every problem when the new config is invalid.

    Plain text, or ``{"status": "success"|"error", "problems": [...]}`` for ``Accept:
    application/json``. Problems name file, line and key, never a secret's value.
    """
    problems = await request.app[DAEMON].reload()
    status = 500 if problems else 200
    if "application/json" in request.headers.get("Accept", ""):
        body = {"status": "error" if problems else "success", "problems": problems}
        return web.json_response(body, status=status)
    if not problems:
        return web.Response(text="Reloaded.\n")
    lines = "".join(f"{p}\n" for p in problems)
    text = f"Reload failed: the config is invalid; the old config keeps running.\n{lines}"
    return web.Response(text=text, status=status)
