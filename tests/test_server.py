"""The HTTP server in-process: readiness, the status page, and no secrets anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Writer
from tests.e2e import Simulator
from watcher.app import Daemon, build_app
from watcher.config import load_config
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY


@pytest.fixture
async def client(
    sim: Simulator, write: Writer
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    path = write(
        "w.yaml",
        f"""\
storage: {{path: {write.root}/state.db}}
sources:
  - {{name: good, type: coinw_mega_coupon, base_url: "{sim.url}", api_key: {DEMO_API_KEY},
     secret_key: {DEMO_SECRET_KEY}, statuses: [unused], interval: 1m}}
  - {{name: bad, type: coinw_mega_coupon, base_url: "{sim.url}", api_key: other-key-123,
     secret_key: other-secret-456, statuses: [unused], interval: 1m}}
""",
    )
    daemon = Daemon(load_config(path))
    async with TestClient(TestServer(build_app(daemon))) as c:
        yield c


async def wait_ready(client: TestClient[web.Request, web.Application]) -> None:
    for _ in range(100):
        resp = await client.get("/-/ready")
        if resp.status == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never ready")


async def test_ready_after_first_poll_and_status_page_shows_sources(
    client: TestClient[web.Request, web.Application],
) -> None:
    """/-/ready turns 200 after the first polls; / lists both sources, the down one first."""
    await wait_ready(client)
    page = await (await client.get("/")).text()
    sources = page[page.index('<section id="sources"') :]
    assert sources.index("<strong>bad</strong>") < sources.index("<strong>good</strong>")
    assert '<span class="badge bad">down</span>' in sources
    assert "<code>auth</code> GET /v1/perpum/account/almightyGoldInfo?type=1: code 6000" in sources


async def test_no_secret_in_metrics_or_status_page(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Neither /metrics nor the status page shows an API key or secret key."""
    await wait_ready(client)
    text = await (await client.get("/metrics")).text() + await (await client.get("/")).text()
    for secret in (DEMO_API_KEY, DEMO_SECRET_KEY, "other-key-123", "other-secret-456"):
        assert secret not in text


async def test_generator_url_opens_a_page_with_the_expression_and_its_result(
    client: TestClient[web.Request, web.Application],
) -> None:
    """/graph?g0.expr=… (where alerts' generatorURL points) shows the expression, escaped, and
    its current result; an expression the engine refuses shows the engine's error."""
    await wait_ready(client)
    expr = 'watcher_source_up{source="good"} == 1'
    page = await (await client.get("/graph", params={"g0.expr": expr, "g0.tab": "1"})).text()
    assert "<pre>watcher_source_up{source=&quot;good&quot;} == 1</pre>" in page
    assert "<p>1 series</p>" in page
    assert "<code>watcher_source_up{source=&quot;good&quot;}</code></td><td>1</td>" in page
    bad = await client.get("/graph", params={"g0.expr": "sum(<script>"})
    text = await bad.text()
    assert 200 == bad.status
    assert "<script>" not in text
    assert 'class="error">bad_data:' in text
    assert 400 == (await client.get("/graph")).status
