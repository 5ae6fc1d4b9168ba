"""Run the same alerts through real Alertmanager and through the watcher into local sinks.

For the receiver differential tests (PagerDuty, Opsgenie, Teams): each side's receivers point
at a sink recording every request (method, path with query, headers, raw body). Phase one
posts firing alerts (one of them resolved before the flush); phase two, optional, posts them
again resolved. Alertmanager is a separate process, so waiting for it is a bounded poll; the
watcher runs on a fake clock.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from tests.am_support import poll, post_alerts, run_alertmanager
from watcher.alerts import Alert
from watcher.clock import FakeClock
from watcher.config import parse_config
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher
from watcher.notify.data import rfc3339
from watcher.state import open_db

EXTERNAL_URL = "http://am.example:9093"


@dataclass(frozen=True)
class Request:
    """One request a sink received."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes


@dataclass
class RawSink:
    """Records every request; answers 200 ``{}``."""

    requests: list[Request] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Request(request.method, request.path_qs, dict(request.headers), body))
        return web.json_response({})


async def serve(sink: RawSink) -> tuple[web.AppRunner, str]:
    """Serve ``sink`` on 127.0.0.1 (an OS-picked port); return the runner and its URL."""
    app = web.Application()
    # Only what a receiver sends: a stray scraper on a reused port (GET /metrics) is no request.
    for method in ("POST", "PUT"):
        app.router.add_route(method, "/{tail:.*}", sink.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def alerts(now: float) -> list[Alert]:
    """Two groups by alertname: three Coupon alerts (one resolved by the flush), one Balance.

    They start now, so Alertmanager waits ``group_wait`` for the whole batch.
    """
    start = round(now, 3)
    common = {"summary": "Coupon expiring ☃", "runbook_url": "https://runbooks.example/c?x=1&y=<2>"}
    url = "http://prom.example/graph?g0.expr=up"
    return [
        Alert(
            {"alertname": "Coupon", "job": "coinw", "instance": "i-1", "severity": "critical"},
            {**common, "description": "first"},
            start,
            None,
            1.0,
            url,
        ),
        Alert(
            {"alertname": "Coupon", "job": "coinw", "instance": "i-2", "severity": "warning"},
            {**common, "description": "second", "long": "é" * 1100},
            start + 0.125,
            None,
            2.0,
            url,
        ),
        Alert(
            {"alertname": "Coupon", "job": "coinw", "instance": "i-3", "severity": "warning"},
            {**common, "description": "gone"},
            start,
            start + 0.5,
            3.0,
            url,
        ),
        Alert(
            {"alertname": "Balance café", "job": "tradeboss", "instance": "acct-1"},
            {"summary": "Balance low", "description": "below 10 USDT"},
            start + 0.25,
            None,
            4.0,
            "",
        ),
    ]


def resolved(batch: Sequence[Alert], at: float) -> list[Alert]:
    """``batch`` with every alert ended at ``at``."""
    return [replace(a, ends_at=a.ends_at or round(at, 3)) for a in batch]


def _wire(batch: Sequence[Alert]) -> list[dict[str, object]]:
    return [
        {
            "labels": dict(a.labels),
            "annotations": dict(a.annotations),
            "startsAt": rfc3339(a.starts_at),
            **({"endsAt": rfc3339(a.ends_at)} if a.ends_at else {}),
            "generatorURL": a.generator_url,
        }
        for a in batch
    ]


async def run_both(
    tmp_path: Path,
    config: Callable[[str], str],
    *,
    first: int,
    then: int = 0,
    template_file: str = "",
    watcher_config: Callable[[str], str] | None = None,
) -> tuple[list[Request], list[Request]]:
    """Alertmanager's requests and the watcher's, for ``config(sink_url)``.

    The watcher's config is the same text (or ``watcher_config(sink_url)``) plus
    ``global.external_url``; ``first`` requests are expected after the firing alerts, ``then`` more after they are
    posted again resolved (no second phase when 0). The config's group_interval must be 1s.
    """
    if template_file:
        (tmp_path / "custom.tmpl").write_text(template_file)
    am_sink, ours_sink = RawSink(), RawSink()
    runner, url = await serve(am_sink)
    try:
        async with run_alertmanager(
            tmp_path, config(url), f"--web.external-url={EXTERNAL_URL}"
        ) as am:
            now = time.time()  # after Alertmanager is up: see alerts()
            batch = alerts(now)
            await post_alerts(am, _wire(batch))
            await poll(lambda: len(am_sink.requests) >= first)
            if then:
                await post_alerts(am, _wire(resolved(batch, time.time())))
                await poll(lambda: len(am_sink.requests) >= first + then)
    finally:
        await runner.cleanup()

    runner, url = await serve(ours_sink)
    try:
        # the same text with external_url added to (or as) its global section
        ours = (watcher_config or config)(url)
        text = f"global:\n  external_url: '{EXTERNAL_URL}'\n" + ours.removeprefix("global:\n")
        cfg = parse_config(text, tmp_path / "watcher.yaml")
        clock = FakeClock(now)
        async with aiohttp.ClientSession() as session:
            d = Dispatcher(
                cfg,
                db=open_db(str(tmp_path / "w.db")),
                session=session,
                clock=clock,
                console=io.StringIO(),
                metrics=WatcherMetrics(CollectorRegistry()),
            )
            await d.send(batch, clock.time())
            clock.advance(2)
            await d.tick()
            if then:
                await d.send(resolved(batch, clock.time()), clock.time())
                clock.advance(2)
                await d.tick()
    finally:
        await runner.cleanup()
    return am_sink.requests, ours_sink.requests


def _request_key(q: Request) -> tuple[str, str, bytes]:
    return (q.method, q.path, q.body)


def differ(theirs: list[Request], ours: list[Request]) -> list[tuple[str, str, str]]:
    """The (path, theirs, ours) of every request whose method, path or body differ, in order."""
    pairs = zip(sorted(theirs, key=_request_key), sorted(ours, key=_request_key), strict=True)
    return [
        (a.path, a.body.decode(), b.body.decode())
        for a, b in pairs
        if _request_key(a) != _request_key(b)
    ]
