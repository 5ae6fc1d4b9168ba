"""Shared pieces of the notify tests: a local HTTP sink, a dispatcher, config builders."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from watcher.alerts import Alert
from watcher.clock import Clock, FakeClock
from watcher.config import Config, GlobalConfig, ReceiverConfig, RouteConfig, parse_config
from watcher.errors import ConfigError
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher
from watcher.server.routes import add_alertmanager_api
from watcher.state import open_db

T0 = 1_700_000_000.0


@dataclass
class Sink:
    """An HTTP endpoint on 127.0.0.1 that records requests and answers from a script."""

    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    down: bool = False  # answer 500 to everything while true
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[Any] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    url: str = ""
    clock: Clock | None = None  # when set, each request records its (fake) time as "at"

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        at = self.clock.time() if self.clock is not None else None
        self.requests.append({"path": request.path, "body": body, "at": at})
        self.auth.append(request.headers.get("Authorization"))
        status = 500 if self.down else (self.statuses.pop(0) if self.statuses else 200)
        if status == 200:
            self.accepted.append(body)
        return web.Response(
            status=status,
            text="ok" if status == 200 else "nope",
            headers=self.headers if status != 200 else None,
        )


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (an OS-picked port) until the block ends; yield its URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve(sink: Sink) -> AsyncIterator[Sink]:
    """Run ``sink`` on an OS-picked port; ``sink.url`` is its base URL."""
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", sink.handle)
    async with serve_app(app) as sink.url:
        yield sink


def dispatcher(
    config: Config,
    db: Path | str | sqlite3.Connection,
    session: aiohttp.ClientSession,
    clock: Clock,
    *,
    metrics: WatcherMetrics | None = None,
    console: TextIO | None = None,
) -> Dispatcher:
    """A Dispatcher on the SQLite file ``db`` (or an open connection), with its own metrics
    and a console nobody reads."""
    return Dispatcher(
        config,
        db=db if isinstance(db, sqlite3.Connection) else open_db(str(db)),
        session=session,
        clock=clock,
        metrics=WatcherMetrics(CollectorRegistry()) if metrics is None else metrics,
        console=io.StringIO() if console is None else console,
    )


@asynccontextmanager
async def dispatching(
    config: Config, db: Path | str, clock: Clock, **kw: Any
) -> AsyncIterator[Dispatcher]:
    """A :func:`dispatcher` with its own HTTP session, for the block."""
    async with aiohttp.ClientSession() as session:
        yield dispatcher(config, db, session, clock, **kw)


@asynccontextmanager
async def serve_api(d: Dispatcher) -> AsyncIterator[str]:
    """Serve ``d``'s Alertmanager API v2 on 127.0.0.1 for the block; yield its URL."""
    app = web.Application()
    add_alertmanager_api(app, d)
    async with serve_app(app) as url:
        yield url


async def deliver(d: Dispatcher, clock: FakeClock, alerts: Sequence[Alert], after: float) -> None:
    """Hand ``alerts`` to ``d`` now, let ``after`` seconds pass, then flush and deliver."""
    await d.send(alerts, clock.time())
    clock.advance(after)
    await d.tick()


def only_problem(text: str, path: Path) -> str:
    """The one problem ``parse_config`` refuses ``text`` (read as ``path``) with."""
    with pytest.raises(ConfigError) as err:
        parse_config(text, path)
    assert 1 == len(err.value.problems)
    return err.value.problems[0]


def make_config(receivers: Sequence[ReceiverConfig], route: RouteConfig, **kw: Any) -> Config:
    """A Config holding only the notification parts."""
    return Config(
        file=Path("watcher.yaml"),
        route=route,
        receivers=tuple(receivers),
        global_=kw.pop("global_", GlobalConfig(external_url="http://watcher:9746")),
        **kw,
    )


def coupon_alert(
    coupon: str = "42",
    *,
    starts: float = T0,
    ends: float | None = None,
    value: float = 3.5,
    severity: str = "warning",
) -> Alert:
    """A Mega Coupon expiring-soon alert."""
    return Alert(
        labels={
            "alertname": "MegaCouponExpiringSoon",
            "source": "coinw-main",
            "severity": severity,
            "coupon_id": coupon,
        },
        annotations={
            "summary": f"Coupon {coupon} expires soon",
            "description": "Less than 2 days left",
            "runbook_url": "https://runbooks.example/coupon",
        },
        starts_at=starts,
        ends_at=ends,
        value=value,
        generator_url="http://watcher:9746/",
    )
