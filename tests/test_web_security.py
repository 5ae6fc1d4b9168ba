"""TLS, basic auth and write access with real clients: Prometheus, amtool, and plain HTTP.

The daemon runs as `watcher run --web.config.file` (a subprocess), with certificates made by
the openssl CLI for this test and bcrypt hashes in exporter-toolkit's `basic_auth_users`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Writer
from tests.e2e import ROOT, free_port
from tests.pki import Pki, bcrypt_hash, make_pki

PROMETHEUS = shutil.which("prometheus")
AMTOOL = shutil.which("amtool")
IN_CI = os.environ.get("CI") == "true"
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None and not IN_CI, reason="prometheus is not installed"
)
needs_amtool = pytest.mark.skipif(AMTOOL is None and not IN_CI, reason="amtool is not installed")

READER, READER_PW = "reader", "reader-pw-1f2e"
WRITER, WRITER_PW = "writer", "writer-pw-9a8b"
SILENCE = {
    "matchers": [{"name": "coupon_id", "value": "42", "isRegex": False}],
    "startsAt": "2020-01-01T00:00:00Z",
    "endsAt": "2999-01-01T00:00:00Z",
    "createdBy": "test",
    "comment": "maintenance",
}


@dataclass
class Watcher:
    """A running `watcher run` over TLS with basic auth."""

    url: str
    pki: Pki
    web_config: Path
    proc: asyncio.subprocess.Process

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pki.ca))

    async def request(
        self, method: str, path: str, user: tuple[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, str, dict[str, str]]:
        auth = aiohttp.BasicAuth(*user) if user else None
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.url + path, auth=auth, ssl=self.tls(), **kwargs) as r,
        ):
            return r.status, await r.text(), dict(r.headers)


def web_config(pki: Pki, *, reader_pw: str = READER_PW) -> str:
    return f"""\
tls_server_config:
  cert_file: {pki.cert}
  key_file: {pki.key}
  min_version: TLS12
basic_auth_users:
  {READER}: '{bcrypt_hash(reader_pw)}'
  {WRITER}: '{bcrypt_hash(WRITER_PW)}'
http_server_config:
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
"""


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    """Poll ``check`` (real I/O against a real process) until it holds, bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    msg = f"{what}: not within {timeout}s"
    raise AssertionError(msg)


@pytest.fixture
async def watcher(write: Writer, tmp_path: Path) -> AsyncIterator[Watcher]:
    """`watcher run -c w.yaml --web.config.file web.yml` on a free port."""
    pki = make_pki(tmp_path / "pki")
    web = write("web.yml", web_config(pki))
    port = free_port()
    config = write(
        "w.yaml",
        f"server:\n  listen: 127.0.0.1:{port}\n  api: {{writers: [{WRITER}]}}\n"
        "storage: {path: ':memory:'}\n",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watcher", "--log-format", "json", "run", "-c", str(config),
        "--web.config.file", str(web),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    w = Watcher(f"https://127.0.0.1:{port}", pki, web, proc)

    async def healthy() -> bool:
        if proc.returncode is not None:
            assert proc.stderr is not None
            raise AssertionError((await proc.stderr.read()).decode())
        try:
            return (await w.request("GET", "/-/healthy", (READER, READER_PW)))[0] == 200
        except aiohttp.ClientError:
            return False

    try:
        await wait_until(healthy, "watcher healthy")
        yield w
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 15)


async def test_no_credentials_401_credentials_200_over_tls(watcher: Watcher) -> None:
    """Without credentials 401 + `WWW-Authenticate: Basic`; wrong password 401; right one 200."""
    status, _, headers = await watcher.request("GET", "/metrics")
    assert (401, "Basic") == (status, headers.get("WWW-Authenticate"))
    assert 401 == (await watcher.request("GET", "/metrics", (READER, "wrong")))[0]
    assert 401 == (await watcher.request("GET", "/metrics", ("nobody", READER_PW)))[0]
    status, text, headers = await watcher.request("GET", "/metrics", (READER, READER_PW))
    assert 200 == status
    assert "watcher_build_info" in text
    assert ("deny", "nosniff") == (headers["X-Frame-Options"], headers["X-Content-Type-Options"])


async def test_plain_http_is_refused_on_a_tls_listener(watcher: Watcher) -> None:
    """An http:// client gets no answer from the TLS listener."""
    with pytest.raises(aiohttp.ClientError):
        async with (
            aiohttp.ClientSession() as s,
            s.get(watcher.url.replace("https", "http") + "/metrics") as r,
        ):
            await r.read()


async def test_only_writers_reload_and_write_silences(watcher: Watcher) -> None:
    """A reader may read silences but not add one or reload (403); a writer may do both."""
    reader, writer = (READER, READER_PW), (WRITER, WRITER_PW)
    status, text, _ = await watcher.request("POST", "/api/v2/silences", reader, json=SILENCE)
    assert (403, "Forbidden: user 'reader' is not in server.api.writers\n") == (status, text)
    assert 403 == (await watcher.request("POST", "/-/reload", reader))[0]
    status, text, _ = await watcher.request("POST", "/api/v2/silences", writer, json=SILENCE)
    assert 200 == status, text
    silence_id = json.loads(text)["silenceID"]
    status, text, _ = await watcher.request("GET", "/api/v2/silences", reader)
    assert (200, [silence_id]) == (status, [s["id"] for s in json.loads(text)])
    assert 403 == (await watcher.request("DELETE", f"/api/v2/silence/{silence_id}", reader))[0]
    assert 200 == (await watcher.request("POST", "/-/reload", writer))[0]


async def test_reload_rereads_the_web_config(watcher: Watcher) -> None:
    """A new password hash applies on `POST /-/reload`: the old password stops working."""
    watcher.web_config.write_text(web_config(watcher.pki, reader_pw="rotated-pw"))
    assert 200 == (await watcher.request("POST", "/-/reload", (WRITER, WRITER_PW)))[0]
    assert 401 == (await watcher.request("GET", "/metrics", (READER, READER_PW)))[0]
    assert 200 == (await watcher.request("GET", "/metrics", (READER, "rotated-pw")))[0]


async def test_invalid_web_config_on_reload_keeps_the_old_one(watcher: Watcher) -> None:
    """A broken web config refuses the reload (500) and the old users keep working."""
    watcher.web_config.write_text("basic_auth_users: {reader: plaintext-password}\n")
    assert 500 == (await watcher.request("POST", "/-/reload", (WRITER, WRITER_PW)))[0]
    assert 200 == (await watcher.request("GET", "/metrics", (READER, READER_PW)))[0]


async def test_bounded_bodies(watcher: Watcher) -> None:
    """A 2 MiB body is a 413; a 100k-deep JSON body is a 400, not a 500 with a traceback."""
    writer = (WRITER, WRITER_PW)
    big = b'{"comment": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, _, _ = await watcher.request("POST", "/api/v2/silences", writer, data=big)
    assert 413 == status
    deep = "[" * 100_000 + "]" * 100_000
    json_type = {"Content-Type": "application/json"}
    status, text, _ = await watcher.request(
        "POST", "/api/v2/silences", writer, data=deep, headers=json_type
    )
    assert (400, '"body is nested too deeply"') == (status, text)


@needs_prometheus
async def test_real_prometheus_scrapes_over_tls_with_basic_auth(
    watcher: Watcher, tmp_path: Path
) -> None:
    """Prometheus's scrape_config tls_config + basic_auth: up; without basic_auth: 401, down."""
    assert PROMETHEUS is not None
    target = watcher.url.removeprefix("https://")
    port = free_port()
    tls = f"tls_config: {{ca_file: {watcher.pki.ca}}}"
    (tmp_path / "prometheus.yml").write_text(f"""\
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: with_auth
    scheme: https
    {tls}
    basic_auth: {{username: {READER}, password: {READER_PW}}}
    static_configs: [{{targets: ["{target}"]}}]
  - job_name: without_auth
    scheme: https
    {tls}
    static_configs: [{{targets: ["{target}"]}}]
""")
    prom = await asyncio.create_subprocess_exec(
        PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    health: dict[str, tuple[str, str]] = {}

    async def both_scraped() -> bool:
        try:
            async with (
                aiohttp.ClientSession() as s,
                s.get(f"http://127.0.0.1:{port}/api/v1/targets") as r,
            ):
                targets = (await r.json())["data"]["activeTargets"]
        except (aiohttp.ClientError, ValueError):
            return False
        health.update({t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets})
        return {h for h, _ in health.values()} <= {"up", "down"} and len(health) == 2

    try:
        await wait_until(both_scraped, "prometheus scraped both jobs", timeout=60)
    finally:
        prom.terminate()
        await asyncio.wait_for(prom.wait(), 30)
    assert ("up", "") == health["with_auth"]
    assert "down" == health["without_auth"][0]
    assert "401" in health["without_auth"][1]


@needs_amtool
async def test_real_amtool_reader_cannot_add_a_silence_writer_can(
    watcher: Watcher, tmp_path: Path
) -> None:
    """`amtool --http.config.file`: the reader's `silence add` fails, the writer's succeeds."""
    assert AMTOOL is not None

    async def amtool(user: str, password: str, *args: str) -> tuple[int, str, str]:
        """Exit code, stdout, stderr (amtool warns on stderr that our version differs)."""
        http = tmp_path / f"{user}.yml"
        http.write_text(
            f"basic_auth: {{username: {user}, password: {password}}}\n"
            f"tls_config: {{ca_file: {watcher.pki.ca}}}\n"
        )
        proc = await asyncio.create_subprocess_exec(
            AMTOOL, f"--alertmanager.url={watcher.url}", f"--http.config.file={http}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        return proc.returncode or 0, out.decode().strip(), err.decode()

    add = ("silence", "add", "coupon_id=42", "--comment=known", "--author=oncall", "--duration=1h")
    code, _, err = await amtool(READER, READER_PW, *add)
    assert 0 != code
    assert "403" in err or "Forbidden" in err, err
    assert (0, "") == (await amtool(READER, READER_PW, "silence", "query", "-q"))[:2]
    code, silence_id, err = await amtool(WRITER, WRITER_PW, *add)
    assert 0 == code, err
    assert (0, silence_id) == (await amtool(READER, READER_PW, "silence", "query", "-q"))[:2]
    code, _, err = await amtool("intruder", "guess", "silence", "query")
    assert 0 != code
    assert "401" in err or "Unauthorized" in err, err
