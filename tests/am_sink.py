"""Run the same alerts through real Alertmanager and through the watcher into local sinks.

For the receiver differential tests (Slack, Telegram, PagerDuty, Opsgenie, Teams, email):
each side's receivers point at a sink recording every request (method, path with query,
headers, raw body), or at an SMTP server. Phase one posts firing alerts (one of them resolved
before the flush); phase two, optional, posts them again resolved. Alertmanager is a separate
process, so waiting for it is a bounded poll; the watcher runs on a fake clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web

from tests.am_support import poll, post_alerts, run_alertmanager
from tests.notify_support import deliver, dispatching, serve_app
from watcher.alerts import Alert
from watcher.clock import FakeClock
from watcher.config import Config, parse_config
from watcher.notify.data import rfc3339

EXTERNAL_URL = "http://am.example:9093"


@dataclass(frozen=True)
class Request:
    """One request a sink received."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes


def empty_json() -> web.Response:
    """200 ``{}``: what a receiver's API answers when nothing more is needed."""
    return web.json_response({})


@dataclass
class RawSink:
    """Records every request; answers with ``reply()`` (200 ``{}`` unless told)."""

    reply: Callable[[], web.Response] = empty_json
    requests: list[Request] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Request(request.method, request.path_qs, dict(request.headers), body))
        return self.reply()


@asynccontextmanager
async def serve(sink: RawSink) -> AsyncIterator[str]:
    """Serve ``sink`` on 127.0.0.1 (an OS-picked port) for the block; yield its URL."""
    app = web.Application()
    # Only what a receiver sends: a stray scraper on a reused port (GET /metrics) is no request.
    for method in ("POST", "PUT"):
        app.router.add_route(method, "/{tail:.*}", sink.handle)
    async with serve_app(app) as url:
        yield url


def coupons(
    now: float,
    annotations: Sequence[dict[str, str]],
    urls: Sequence[str],
    *,
    instances: Sequence[str] = ("i-1", "i-2", "i-3"),
) -> list[Alert]:
    """Three Coupon alerts of job coinw (critical, warning, warning), values 1, 2 and 3.

    They start now (the second 0.125 s later), so Alertmanager waits ``group_wait`` for the
    whole batch (an older alert would flush its group at once, before the rest of the POST is
    inserted); the third ends 0.5 s in, before the flush, and is never sent as firing.
    """
    start = round(now, 3)
    times = ((start, None), (start + 0.125, None), (start, start + 0.5))
    severities = ("critical", "warning", "warning")
    rows = zip(instances, severities, annotations, times, urls, strict=True)
    return [
        Alert(
            {"alertname": "Coupon", "job": "coinw", "instance": instance, "severity": severity},
            dict(notes),
            starts,
            ends,
            float(n),
            url,
        )
        for n, (instance, severity, notes, (starts, ends), url) in enumerate(rows, 1)
    ]


def balance(now: float) -> Alert:
    """A Balance alert of job tradeboss (a second group), starting 0.25 s after ``now``."""
    return Alert(
        {"alertname": "Balance café", "job": "tradeboss", "instance": "acct-1"},
        {"summary": "Balance low", "description": "below 10 USDT"},
        round(now, 3) + 0.25,
        None,
        4.0,
        "",
    )


def alerts(now: float) -> list[Alert]:
    """Two groups by alertname: three :func:`coupons` (one resolved by the flush), one
    :func:`balance`."""
    common = {"summary": "Coupon expiring ☃", "runbook_url": "https://runbooks.example/c?x=1&y=<2>"}
    notes = [
        {**common, "description": "first"},
        {**common, "description": "second", "long": "é" * 1100},
        {**common, "description": "gone"},
    ]
    return [*coupons(now, notes, ["http://prom.example/graph?g0.expr=up"] * 3), balance(now)]


def every_receiver(
    names: Sequence[str], *, group_by: str = "alertname", group_interval: str = "1h"
) -> str:
    """A ``route`` giving every alert to each of ``names`` in turn (``continue: true``; the
    first is also the root's), ``group_wait`` 1s, then the ``receivers:`` key."""
    routes = "".join(
        f"    - {{receiver: '{name}', matchers: ['alertname=~\".+\"'], continue: true}}\n"
        for name in names
    )
    return (
        f"route:\n  receiver: '{names[0]}'\n  group_by: [{group_by}]\n  group_wait: 1s\n"
        f"  group_interval: {group_interval}\n  repeat_interval: 4h\n  routes:\n{routes}"
        "receivers:\n"
    )


def resolved(batch: Sequence[Alert], at: float) -> list[Alert]:
    """``batch`` with every alert ended at ``at``."""
    return [replace(a, ends_at=a.ends_at or round(at, 3)) for a in batch]


def wire(batch: Sequence[Alert]) -> list[dict[str, object]]:
    """``batch`` as a POST to Alertmanager's ``/api/v2/alerts`` carries it."""
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


async def through_alertmanager(
    config_dir: Path,
    config_text: str,
    make_alerts: Callable[[float], list[Alert]],
    done: Callable[[], bool],
    *,
    resolved_done: Callable[[], bool] | None = None,
    external_url: str = EXTERNAL_URL,
) -> tuple[float, list[Alert]]:
    """Post ``make_alerts(now)`` to a real Alertmanager running ``config_text``; wait until
    ``done()``. With ``resolved_done``, post them again resolved and wait until that is true.

    Returns ``now`` (taken once Alertmanager is up: see :func:`alerts`) and the batch.
    """
    async with run_alertmanager(
        config_dir, config_text, f"--web.external-url={external_url}"
    ) as am:
        now = time.time()
        batch = make_alerts(now)
        await post_alerts(am, wire(batch))
        await poll(done)
        if resolved_done is not None:
            await post_alerts(am, wire(resolved(batch, time.time())))
            await poll(resolved_done)
    return now, batch


def fan_out(kind: str, configs: dict[str, str], **route: str) -> str:
    """:func:`every_receiver` over ``configs``' names, then each receiver with one ``kind``
    entry: ``configs[name]``, its YAML keys (the first after ``- ``, the rest at 8 spaces)."""
    items = "".join(
        f"  - name: '{name}'\n    {kind}:\n      - {keys}\n" for name, keys in configs.items()
    )
    return every_receiver(list(configs), **route) + items


def with_external_url(text: str, url: str = EXTERNAL_URL) -> str:
    """``text`` with ``global.external_url: url`` (in its global section, or as one)."""
    line = f"global:\n  external_url: '{url}'\n"
    if re.search(r"(?m)^global:\n", text):
        return re.sub(r"(?m)^global:\n", lambda _: line, text, count=1)
    return line + text


async def through_watcher(
    db_dir: Path,
    config: Config,
    batch: Sequence[Alert],
    now: float,
    *,
    after: float = 2,
    resolve: bool = False,
) -> None:
    """What Alertmanager got, through the watcher's dispatcher on a fake clock started at
    ``now``: ``batch``, flushed ``after`` seconds later, then (``resolve``) the batch resolved."""
    clock = FakeClock(now)
    async with dispatching(config, db_dir / "w.db", clock) as d:
        await deliver(d, clock, batch, after)
        if resolve:
            await deliver(d, clock, resolved(batch, clock.time()), after)


async def run_both(
    tmp_path: Path,
    config: Callable[[str], str],
    *,
    first: int,
    then: int = 0,
    template_file: str = "",
    watcher_config: Callable[[str], str] | None = None,
    make_alerts: Callable[[float], list[Alert]] = alerts,
    reply: Callable[[], web.Response] = empty_json,
) -> tuple[list[Request], list[Request]]:
    """Alertmanager's requests and the watcher's, for ``config(sink_url)``.

    The watcher's config is the same text (or ``watcher_config(sink_url)``) plus
    ``global.external_url``; ``first`` requests are expected after the firing alerts
    (``make_alerts(now)``), ``then`` more after they are posted again resolved (no second
    phase when 0). Both sinks answer ``reply()``. A second phase needs group_interval 1s.
    """
    if template_file:
        (tmp_path / "custom.tmpl").write_text(template_file)
    am_sink, ours_sink = RawSink(reply), RawSink(reply)
    async with serve(am_sink) as url:
        now, batch = await through_alertmanager(
            tmp_path,
            config(url),
            make_alerts,
            lambda: len(am_sink.requests) >= first,
            resolved_done=(lambda: len(am_sink.requests) >= first + then) if then else None,
        )
    async with serve(ours_sink) as url:
        text = with_external_url((watcher_config or config)(url))
        cfg = parse_config(text, tmp_path / "watcher.yaml")
        await through_watcher(tmp_path, cfg, batch, now, resolve=bool(then))
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
