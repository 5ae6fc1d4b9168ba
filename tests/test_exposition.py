"""/metrics from the exposition cache: byte-identical to prometheus-client, re-rendering only changes."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
import zlib
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from watcher import exposition
from watcher.exposition import Format, StoreExposition
from watcher.series import Series
from watcher.server.metrics import metrics_handler
from watcher.store import SeriesStore, StoreCollector

# What Prometheus 2.x and 3.x send, plain clients, and every escaping prometheus-client knows.
ACCEPTS = [
    "",
    "*/*",
    "text/plain;version=0.0.4",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=dots",
    "text/plain;version=1.0.0;escaping=values",
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3",
    "application/openmetrics-text;version=1.0.0;escaping=underscores",
    "application/openmetrics-text;version=1.0.0;escaping=dots",
    "application/openmetrics-text;version=1.0.0;escaping=values",
    "application/openmetrics-text;version=2.0.0",
    "application/openmetrics-text",
]


class _Both(Collector):
    """The daemon's /metrics registry: self-metrics, then the store (as watcher.app builds it)."""

    def __init__(self, self_registry: CollectorRegistry, store: SeriesStore) -> None:
        self._parts: list[Collector] = [self_registry, StoreCollector(store)]

    def collect(self) -> Iterator[Metric]:
        for part in self._parts:
            yield from part.collect()


def daemon_registry(self_registry: CollectorRegistry, store: SeriesStore) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Both(self_registry, store))
    return registry


def tricky_store() -> SeriesStore:
    store = SeriesStore()
    store.describe("coupon_remaining", 'Remaining "amount" \\ per\ncoupon.')
    store.configure("coinw", 60)
    store.put(
        "coinw",
        "unused",
        [
            Series("coupon_remaining", {"id": "1", "status": "unused"}, 12.5),
            Series("coupon_expiry", {"id": "1", "z": 'a"b\\c\nd', "a": "ünï €"}, 1.7e9),
            Series("coupon_remaining", {"id": "2", "status": "unused"}, float("nan")),
            Series("bare", {}, float("inf")),
            Series("weird:name", {"x": "1"}, -0.0),
            Series("dotted.name", {"le": "0.5"}, 1e21),
        ],
        0.0,
    )
    store.put(
        "coinw",
        "used",
        [Series("coupon_remaining", {"id": "3", "status": "used"}, float("-inf"))],
        0.0,
    )
    store.configure("wallet", 60)
    store.put("wallet", "acct-1", [Series("balance", {"user": "u1"}, 123456789.0)], 0.0)
    store.put("wallet", "acct-2", [Series("balance", {"user": "u2"}, 0.1)], 0.0)
    return store


def poll_without(store: SeriesStore, gone: tuple[str, str], now: float) -> None:
    """Polls at ``now`` read every group again but ``gone``, which ages out as the runner's
    ``expire`` after each poll drops it (the sources' ``stale_after`` is 60 s)."""
    for source, key, series, _ in list(store.groups()):
        if (source, key) != gone:
            store.put(source, key, series, now)
    assert 1 == store.expire(now)


def self_metrics() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    Gauge("watcher_up", "Help with \\ and\nnewline.", ["source"], registry=registry).labels(
        "coinw"
    ).set(1)
    Counter("watcher_errors", "Errors.", ["reason"], registry=registry).labels("timeout").inc(3)
    Histogram("watcher_poll_seconds", "Poll.", registry=registry, buckets=(0.1, 1)).observe(0.3)
    return registry


def expected(registry: Collector, accept: str) -> bytes:
    encoder, _ = choose_encoder(accept)
    out: bytes = encoder(registry)
    return out


@pytest.mark.parametrize("accept", ACCEPTS)
def test_body_is_byte_identical_to_prometheus_client(accept: str) -> None:
    """For every Accept header, the cached body equals prometheus-client's, cold and cached."""
    store, self_registry = tricky_store(), self_metrics()
    expo = StoreExposition(store, self_registry)
    fmt, _ = Format.negotiate(accept)
    assert expected(_Both(self_registry, store), accept) == expo.render(fmt, gzip=False)
    store.put("wallet", "acct-1", [Series("balance", {"user": "u1"}, 5.0)], 1.0)
    assert expected(_Both(self_registry, store), accept) == expo.render(fmt, gzip=False)
    assert expected(_Both(self_registry, store), accept) == expo.render(fmt, gzip=False)
    poll_without(store, ("coinw", "unused"), 61.0)  # gone stale, then read again: at the end
    store.put("coinw", "unused", next(tricky_store().groups())[2], 62.0)
    assert expected(_Both(self_registry, store), accept) == expo.render(fmt, gzip=False)


def test_only_changed_groups_are_rendered_again() -> None:
    """A scrape re-renders the groups that were put since the last one, and none when none were."""
    store, self_registry = tricky_store(), self_metrics()
    expo = StoreExposition(store, self_registry)
    fmt, _ = Format.negotiate("application/openmetrics-text;version=1.0.0")
    expo.render(fmt, gzip=True)
    assert 4 == expo.last_rendered(fmt)
    store.put("coinw", "used", [Series("coupon_remaining", {"id": "4"}, 1.0)], 1.0)
    poll_without(store, ("wallet", "acct-2"), 61.0)
    body = expo.render(fmt, gzip=False)
    assert 1 == expo.last_rendered(fmt)
    assert b'user="u2"' not in body
    assert b'coupon_remaining{id="4"} 1.0\n' in body
    expo.render(fmt, gzip=False)
    assert 0 == expo.last_rendered(fmt)
    store.put("coinw", "used", [Series("coupon_remaining", {"id": "4"}, 1.0)], 62.0)
    expo.render(fmt, gzip=False)  # a poll that read the same series again
    assert 0 == expo.last_rendered(fmt)


def test_help_text_change_shows_without_a_new_put() -> None:
    """A changed HELP text reaches /metrics even when no series changed."""
    store, self_registry = tricky_store(), self_metrics()
    expo = StoreExposition(store, self_registry)
    fmt, _ = Format.negotiate("")
    expo.render(fmt, gzip=False)
    store.describe("balance", "Account balance.")
    assert b"# HELP balance Account balance.\n" in expo.render(fmt, gzip=False)


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text;version=1.0.0"])
def test_gzip_is_one_member_that_decodes_to_the_body(accept: str) -> None:
    """The gzip body (cached store piece or not) is one gzip member holding the exact body."""
    store, self_registry = tricky_store(), self_metrics()
    expo = StoreExposition(store, self_registry)
    fmt, _ = Format.negotiate(accept)
    for scrape in range(2):  # cold, then from the cached deflated piece with new self-metrics
        if scrape:
            Counter("late", "Late.", registry=self_registry).inc()
        body = expo.render(fmt, gzip=True)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert expected(_Both(self_registry, store), accept) == inflater.decompress(body)
        assert inflater.eof
        assert b"" == inflater.unused_data
        assert gzip.decompress(body) == expo.render(fmt, gzip=False)


async def test_a_large_scrape_gives_the_event_loop_back_while_polls_write() -> None:
    """A scrape runs in slices: other tasks (polls, requests) run between them, a poll that
    writes mid-scrape leaves a whole body, and the next scrape shows what it wrote."""
    store = SeriesStore()
    for g in range(4 * exposition.STEP):
        store.put("s", f"g{g}", [Series("m", {"i": str(g)}, float(g))], 0.0)
    registry = CollectorRegistry()
    expo = StoreExposition(store, registry, slice_seconds=0.0)
    fmt, _ = Format.negotiate("")
    turns = 0
    rendering = True

    async def poll() -> None:
        nonlocal turns
        while rendering:
            turns += 1
            if turns == 2:
                store.put("s", "g0", [Series("m", {"i": "0"}, 42.0)], 1.0)
            await asyncio.sleep(0)

    task = asyncio.create_task(poll())
    await asyncio.sleep(0)
    body = gzip.decompress(await expo.render_async(fmt, gzip=True))
    rendering = False
    await task
    assert turns >= 4
    assert body.endswith(b'm{i="255"} 255.0\n')
    assert 4 * exposition.STEP == body.count(b"\nm{")
    assert b'm{i="0"} 42.0\n' in expo.render(fmt, gzip=False)


async def test_route_negotiates_openmetrics_and_gzip() -> None:
    """GET /metrics answers OpenMetrics+gzip to Prometheus's headers and plain text to curl."""
    store, self_registry = tricky_store(), self_metrics()
    app = web.Application()
    app.router.add_get(
        "/metrics", metrics_handler(store, self_registry, daemon_registry(self_registry, store))
    )
    om = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/metrics", headers={"Accept": om, "Accept-Encoding": "gzip"})
        assert "gzip" == resp.headers["Content-Encoding"]
        assert (
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
            == resp.headers["Content-Type"]
        )
        assert expected(_Both(self_registry, store), om) == await resp.read()
        resp = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in resp.headers
        assert "text/plain; version=0.0.4; charset=utf-8" == resp.headers["Content-Type"]
        assert expected(_Both(self_registry, store), "") == await resp.read()
        resp = await client.get("/metrics?name[]=balance", headers={"Accept-Encoding": "identity"})
        assert b"# TYPE balance gauge\n" in await resp.read()


@pytest.mark.external
def test_promtool_check_metrics_is_clean() -> None:
    """`promtool check metrics` reports nothing for the cached body of a store like the daemon's."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    store = SeriesStore()
    store.describe("coinw_mega_coupon_remaining_amount", "Remaining amount of the coupon.")
    store.put(
        "coinw",
        "unused",
        [
            Series(
                "coinw_mega_coupon_remaining_amount",
                {"source": "coinw", "coupon_id": str(i), "note": 'say "hi"\n'},
                float(i),
            )
            for i in range(50)
        ],
        0.0,
    )
    self_registry = self_metrics()
    expo = StoreExposition(store, self_registry)
    expo.render(Format.negotiate("")[0], gzip=False)
    body = expo.render(Format.negotiate("")[0], gzip=False)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert (0, b"", b"") == (result.returncode, result.stdout, result.stderr)


def test_gzip_after_a_change_in_one_of_many_blocks_decodes_to_the_new_body() -> None:
    """With groups spread over many deflated blocks, changing one still yields the exact body."""
    store, self_registry = SeriesStore(), self_metrics()
    for g in range(5 * exposition.BLOCK):
        store.put("s", f"g{g}", [Series("m", {"g": str(g)}, 1.0), Series("n", {}, 2.0)], 0.0)
    expo = StoreExposition(store, self_registry)
    fmt, _ = Format.negotiate("")
    expo.render(fmt, gzip=True)
    store.put("s", "g40", [Series("m", {"g": "40"}, 3.5)], 1.0)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert expected(_Both(self_registry, store), "") == inflater.decompress(
        expo.render(fmt, gzip=True)
    )
    assert (True, b"") == (inflater.eof, inflater.unused_data)
