"""Every route the daemon serves, in one list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from watcher.graph import add_graph_routes
from watcher.page import add_page_routes
from watcher.query import add_query_routes
from watcher.server.am_alerts import add_alert_routes
from watcher.server.am_silences import add_silence_routes
from watcher.server.guard import install_guard
from watcher.server.ops import add_ops_routes
from watcher.server.promapi import add_prometheus_api
from watcher.server.views import Notifications, StatusView

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["add_alertmanager_api", "add_routes"]


def add_routes(app: web.Application, view: StatusView, metrics: Handler) -> None:
    """Guard every request, then register every route: ``/metrics``, lifecycle, page, ``/api``."""
    install_guard(app, view)
    app.router.add_get("/metrics", metrics)
    add_ops_routes(app, view)
    add_page_routes(app, view)
    add_query_routes(app, view)
    add_prometheus_api(app, view)
    add_graph_routes(app, view)
    add_alertmanager_api(app, view.dispatcher)


def add_alertmanager_api(app: web.Application, notifications: Notifications) -> None:
    """Register Alertmanager's API v2 over ``notifications`` (alerts and silences)."""
    add_alert_routes(app, notifications)
    add_silence_routes(app, notifications)
