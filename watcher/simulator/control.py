"""Helpers shared by the simulator's endpoint modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or HTTP 400."""
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body
