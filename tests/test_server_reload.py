"""POST /-/reload answers with the problems it found (never a secret), as JSON when asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Writer
from watcher.app import Daemon, build_app
from watcher.config import load_config

SECRET = "sEcReT-value-123"


def config(write: Writer, interval: str) -> Path:
    return write(
        "w.yaml",
        f"""\
storage: {{path: {write.root}/state.db}}
sources:
  - name: a
    type: coinw_mega_coupon
    base_url: http://127.0.0.1:1
    api_key: key
    secret_key: {SECRET}
    interval: {interval}
""",
    )


@pytest.fixture
async def client(write: Writer) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    daemon = Daemon(load_config(config(write, "1h")))
    async with TestClient(TestServer(build_app(daemon))) as c:
        yield c


async def test_failed_reload_lists_each_problem_with_its_line(
    client: TestClient[web.Request, web.Application], write: Writer
) -> None:
    """A broken file: 500, and the text names file, line and key of the problem, no secret."""
    path = config(write, "soon")
    resp = await client.post("/-/reload")
    text = await resp.text()
    assert 500 == resp.status
    assert [
        "Reload failed: the config is invalid; the old config keeps running.",
        f'{path}:8 sources[0].interval: expected a duration like 30s, 5m or 1h30m, got "soon"',
    ] == text.splitlines()
    assert SECRET not in text


async def test_reload_answers_json_when_asked(
    client: TestClient[web.Request, web.Application], write: Writer
) -> None:
    """With Accept: application/json: {"status": "error", "problems": [...]}, then success."""
    path = config(write, "soon")
    headers = {"Accept": "application/json"}
    resp = await client.post("/-/reload", headers=headers)
    assert 500 == resp.status
    body = await resp.json()
    assert {
        "status": "error",
        "problems": [
            f'{path}:8 sources[0].interval: expected a duration like 30s, 5m or 1h30m, got "soon"'
        ],
    } == body
    config(write, "2h")
    resp = await client.post("/-/reload", headers=headers)
    assert (200, {"status": "success", "problems": []}) == (resp.status, await resp.json())
    resp = await client.put("/-/reload")
    assert (200, "Reloaded.\n") == (resp.status, await resp.text())
