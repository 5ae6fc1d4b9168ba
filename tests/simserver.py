"""The simulator as a real aiohttp server on 127.0.0.1 (OS-picked port), for source tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from watcher.simulator import SimState, create_app


@asynccontextmanager
async def serve(state: SimState, app: web.Application | None = None) -> AsyncIterator[str]:
    """Serve ``state`` (or ``app``) and yield its base URL; hanging handlers are cut at exit."""
    runner = web.AppRunner(app or create_app(state), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
