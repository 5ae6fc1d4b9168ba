"""The status page at ``GET /``: alerts, Mega Coupons, balances and volume, sources.

``model`` reads the view's objects into plain dataclasses, ``render`` turns them into escaped
HTML, ``assets`` holds the inline style sheet and refresh script; ``GET /page/parts`` serves
the same parts as JSON for that script.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from aiohttp import web

from watcher.page.assets import CSS, SCRIPT
from watcher.page.model import build_page
from watcher.page.render import render_page, render_parts, title
from watcher.page.ring import SampleRing

if TYPE_CHECKING:
    from watcher.server.views import StatusView

RING: web.AppKey[SampleRing] = web.AppKey("page_ring", SampleRing)
_NO_STORE = {"Cache-Control": "no-store"}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: Only the page's own inline style and script run (by hash), it talks only to its origin and
#: cannot be framed: a string that escaped escaping still could not execute.
CSP = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(CSS)}; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_PAGE_HEADERS = {**_NO_STORE, "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}


def add_page_routes(app: web.Application, view: StatusView) -> None:
    """Register ``GET /`` and ``GET /page/parts``; keep recent samples for the sparklines."""
    ring = SampleRing()
    view.store.subscribe(ring.record)
    app[RING] = ring

    async def page(_request: web.Request) -> web.Response:
        """The whole page."""
        text = render_page(build_page(view, ring))
        return web.Response(text=text, content_type="text/html", headers=_PAGE_HEADERS)

    async def parts(_request: web.Request) -> web.Response:
        """The page's parts, for the refresh script."""
        page = build_page(view, ring)
        return web.json_response(
            {"title": title(page), "parts": render_parts(page)}, headers=_NO_STORE
        )

    app.router.add_get("/", page)
    app.router.add_get("/page/parts", parts)
