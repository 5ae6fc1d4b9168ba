"""Lifecycle routes: ``/-/healthy``, ``/-/ready``, ``/-/reload`` (as Prometheus names them)."""

from __future__ import annotations

from aiohttp import web

from watcher.server.views import StatusView

VIEW: web.AppKey[StatusView] = web.AppKey("status_view")


def add_ops_routes(app: web.Application, view: StatusView) -> None:
    """Register the health, readiness and reload routes."""
    app[VIEW] = view
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)
    app.router.add_put("/-/reload", reload)


async def healthy(_request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.Response(text="Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    """Readiness: config loaded and every source polled once (successfully or not)."""
    if request.app[VIEW].ready:
        return web.Response(text="Ready.\n")
    return web.Response(text="Not ready: waiting for the first poll of every source.\n", status=503)


async def reload(request: web.Request) -> web.Response:
    """Reload config and rules, like SIGHUP; 500 with every problem when the new config is invalid.

    Plain text, or ``{"status": "success"|"error", "problems": [...]}`` for ``Accept:
    application/json``. Problems name file, line and key, never a secret's value.
    """
    problems = await request.app[VIEW].reload()
    status = 500 if problems else 200
    if "application/json" in request.headers.get("Accept", ""):
        body = {"status": "error" if problems else "success", "problems": problems}
        return web.json_response(body, status=status)
    if not problems:
        return web.Response(text="Reloaded.\n")
    lines = "".join(f"{p}\n" for p in problems)
    text = f"Reload failed: the config is invalid; the old config keeps running.\n{lines}"
    return web.Response(text=text, status=status)
