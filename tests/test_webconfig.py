"""The web config file (exporter-toolkit's format) and the access rules, in-process."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import Writer
from tests.pki import Pki, bcrypt_hash, make_pki
from watcher.app import Daemon, build_app
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.webconfig import WebState, load_web_config

SECRET_HASH = bcrypt_hash("pw")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def problems(write: Writer, text: str) -> list[str]:
    path = write("web.yml", text)
    with pytest.raises(ConfigError) as err:
        load_web_config(path)
    return [p.replace(f"{path}", "web.yml") for p in err.value.problems]


def test_no_file_means_plain_http_without_auth() -> None:
    """Without a web config: no TLS, no users, no headers."""
    config = load_web_config(None)
    assert (None, {}, {}) == (config.ssl, dict(config.users), dict(config.headers))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tls_server_config: {cert_file: a.pem}\n", "web.yml:1 tls_server_config: missing one of key or key_file"),
        ("tls_sever_config: {}\n", 'web.yml:1 tls_sever_config: unknown key (did you mean "tls_server_config"?)'),
        ("basic_auth_users: {alice: hunter2}\n", "web.yml:1 basic_auth_users.alice: expected a bcrypt hash like $2y$10$... (htpasswd -nBC 10)"),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
            "web.yml:1 tls_server_config.client_auth_type: RequireAnyClientCert is not supported: "
            "Python's ssl verifies every client certificate it requests; use VerifyClientCertIfGiven "
            "or RequireAndVerifyClientCert",
        ),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}\n", 'web.yml:1 tls_server_config.client_auth_type: invalid ClientAuth: "Sometimes"'),
        ("tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}\n", "web.yml:1 tls_server_config: client CA's have been configured without a Client Auth Policy"),
        ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}\n", 'web.yml:1 tls_server_config.min_version: unknown TLS version: "TLS14"'),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RC4]\n", 'web.yml:4 tls_server_config.cipher_suites[0]: unknown cipher: "TLS_RC4"'),
        (
            "tls_server_config: {cert_file: a, key_file: b, curve_preferences: [X25519, CurveP256]}\n",
            "web.yml:1 tls_server_config.curve_preferences: Python's ssl can only pin ECDHE to one "
            "NIST curve (CurveP256, CurveP384 or CurveP521), not X25519, CurveP256; list one or "
            "leave the default",
        ),
        ("http_server_config: {headers: {Server: x}}\n", 'web.yml:1 http_server_config.headers.Server: HTTP header "Server" can not be configured'),
        ("http_server_config: {headers: {X-Frame-Options: allow}}\n", 'web.yml:1 http_server_config.headers.X-Frame-Options: invalid value, expected one of deny, sameorigin, got "allow"'),
        ("tls_server_config: {cert_file: missing.pem, key_file: missing.key}\n", "web.yml:1 tls_server_config: cannot load the TLS certificate, key or CA: No such file or directory"),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_the_place(write: Writer, text: str, expected: str) -> None:
    """Mistakes exporter-toolkit refuses, and what Python's ssl cannot honour, are refused."""
    assert [expected] == problems(write, text)


def test_every_problem_of_the_file_is_reported_at_once_by_line(write: Writer) -> None:
    """Users, limits and TLS settings are all checked in one pass; a typo hides nothing."""
    text = (
        "basic_auth_users: {a: x}\n"
        "rate_limit: {burst: -1}\n"
        "tls_server_config:\n"
        "  cert_file: a\n"
        "  client_auth_type: Sometimes\n"
        "  min_version: TLS9\n"
        "  bogus:\n"
    )
    assert [
        "web.yml:1 basic_auth_users.a: expected a bcrypt hash like $2y$10$... (htpasswd -nBC 10)",
        "web.yml:2 rate_limit.burst: must be at least 0, got -1",
        "web.yml:3 tls_server_config: missing one of key or key_file",
        'web.yml:5 tls_server_config.client_auth_type: invalid ClientAuth: "Sometimes"',
        'web.yml:6 tls_server_config.min_version: unknown TLS version: "TLS9"',
        "web.yml:7 tls_server_config.bogus: unknown key",
    ] == problems(write, text)


def test_a_tls_section_that_enables_nothing_still_has_its_keys_checked(write: Writer) -> None:
    """Without cert, key or client settings there is no TLS, but an unknown key is an error."""
    assert ['web.yml:1 tls_server_config.cert_fil: unknown key (did you mean "cert_file"?)'] == (
        problems(write, "tls_server_config: {cert_fil: a.pem, min_version: TLS13}\n")
    )


def test_an_unreadable_or_binary_web_config_is_one_line(write: Writer) -> None:
    """A missing file, or one that is not UTF-8, is one problem naming the file (and the byte)."""
    missing, binary = write.root / "nope.yml", write.root / "binary.yml"
    binary.write_bytes(b"rate_limit: \xff\n")
    for path, expected in (
        (missing, f"{missing}: cannot read web config file: No such file or directory"),
        (binary, f"{binary}: the web config file is not UTF-8 text (byte 12)"),
    ):
        with pytest.raises(ConfigError) as err:
            load_web_config(path)
        assert [expected] == err.value.problems


def test_a_plain_password_in_basic_auth_users_is_never_echoed(write: Writer) -> None:
    """The error for a non-hash value names the user, never the value."""
    assert not any("hunter2" in p for p in problems(write, "basic_auth_users: {a: hunter2}\n"))


def test_files_are_relative_to_the_web_config(write: Writer, pki: Pki) -> None:
    """cert_file/key_file resolve against the web config's folder, as SetDirectory does."""
    (write.root / "tls").mkdir()
    for src in (pki.cert, pki.key):
        (write.root / "tls" / src.name).write_bytes(src.read_bytes())
    path = write(
        "web.yml",
        f"tls_server_config: {{cert_file: tls/{pki.cert.name}, key_file: tls/{pki.key.name},"
        " curve_preferences: [CurveP256], cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]}\n",
    )
    context = load_web_config(path).ssl
    assert context is not None
    assert ssl.TLSVersion.TLSv1_2 == context.minimum_version  # exporter-toolkit's default


def test_inline_cert_and_key_work(write: Writer, pki: Pki) -> None:
    """`cert:` and `key:` given inline as PEM build a context too."""
    indent = "\n    "
    cert = indent.join(pki.cert.read_text().splitlines())
    key = indent.join(pki.key.read_text().splitlines())
    path = write("web.yml", f"tls_server_config:\n  cert: |{indent}{cert}\n  key: |{indent}{key}\n")
    assert load_web_config(path).ssl is not None


Request = Callable[..., Awaitable[tuple[int, str]]]


@pytest.fixture
async def serve(write: Writer, pki: Pki) -> AsyncIterator[Callable[[str, str], Awaitable[Request]]]:
    """Serve the daemon in-process with a given `server:` section and web config."""
    runners: list[web.AppRunner] = []

    async def start(server: str, web_text: str) -> Request:
        for name, file in (("{cert}", pki.cert), ("{key}", pki.key), ("{ca}", pki.ca)):
            web_text = web_text.replace(name, str(file))
        web_path = write("web.yml", web_text)
        config = write(
            "w.yaml",
            f"server:\n  listen: 127.0.0.1:0\n  web_config_file: web.yml\n{server}"
            "storage: {path: ':memory:'}\n",
        )
        cfg = load_config(config)
        assert str(web_path) == cfg.server.web_config_file
        state = WebState(load_web_config(cfg.server.web_config_file))
        daemon = Daemon(cfg, web_state=state)
        runner = web.AppRunner(build_app(daemon))
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=state.listening_context())
        await site.start()
        port = runner.addresses[0][1]
        scheme = "https" if state.config.ssl else "http"

        async def request(
            method: str, path: str, user: str | None = None, cert: bool = False, **kw: object
        ) -> tuple[int, str]:
            tls = ssl.create_default_context(cafile=str(pki.ca))
            if cert:
                tls.load_cert_chain(pki.client_cert, pki.client_key)
            auth = aiohttp.BasicAuth(user, "pw") if user else None
            async with (
                aiohttp.ClientSession() as s,
                s.request(
                    method, f"{scheme}://127.0.0.1:{port}{path}", auth=auth,
                    ssl=tls if scheme == "https" else False, **kw,  # type: ignore[arg-type]
                ) as r,
            ):  # fmt: skip
                return r.status, await r.text()

        return request

    yield start
    for runner in runners:
        await runner.cleanup()


SILENCE = {
    "matchers": [{"name": "a", "value": "b", "isRegex": False}],
    "startsAt": "2020-01-01T00:00:00Z",
    "endsAt": "2999-01-01T00:00:00Z",
    "createdBy": "x",
    "comment": "y",
}


async def test_read_only_silences_refuse_every_writer(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """`silences: read-only` answers 403 to writes (even a writer's) and still lists silences."""
    request = await serve(
        "  api: {silences: read-only, writers: [w]}\n",
        f"basic_auth_users: {{w: '{SECRET_HASH}'}}\n",
    )
    status, text = await request("POST", "/api/v2/silences", "w", json=SILENCE)
    assert (403, "Forbidden: silences are read-only here (server.api.silences)\n") == (status, text)
    assert (200, "[]") == await request("GET", "/api/v2/silences", "w")
    assert 200 == (await request("POST", "/-/reload", "w"))[0]


async def test_silences_off_removes_the_write_routes(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """`silences: off`: POST and DELETE answer 405 as for an absent route, without auth too."""
    request = await serve("  api: {silences: 'off'}\n", "{}\n")
    assert 405 == (await request("POST", "/api/v2/silences", json=SILENCE))[0]
    assert 405 == (await request("DELETE", "/api/v2/silence/x"))[0]
    assert 200 == (await request("GET", "/api/v2/silences"))[0]


async def test_without_basic_auth_anyone_may_write_as_before(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """No users configured: the API stays open (the default), `writers` does not apply."""
    request = await serve("", "{}\n")
    assert 200 == (await request("POST", "/api/v2/silences", json=SILENCE))[0]


def mutual_tls(allowed_san: str) -> str:
    """A web config verifying client certificates of the test CA, one SAN allowed."""
    return (
        "tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca}\n"
        f"  client_allowed_sans: [{allowed_san}]\n"
    )


async def test_client_certificates_required_and_verified(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """RequireAndVerifyClientCert: no client certificate, no TLS session; the CA's cert: 200."""
    request = await serve("", mutual_tls(allowed_san="prometheus"))
    with pytest.raises(aiohttp.ClientError):
        await request("GET", "/metrics")
    assert 200 == (await request("GET", "/metrics", cert=True))[0]


async def test_client_allowed_sans_refuses_other_certificates(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """A verified client certificate without an allowed SAN is refused (403)."""
    request = await serve("", mutual_tls(allowed_san="grafana"))
    assert 403 == (await request("GET", "/metrics", cert=True))[0]


async def test_rate_limit_answers_429_past_the_burst(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """`rate_limit: {interval: 1h, burst: 2}`: the third request within the hour is a 429."""
    request = await serve("", "rate_limit: {interval: 1h, burst: 2}\n")
    statuses = [(await request("GET", "/-/healthy"))[0] for _ in range(3)]
    assert [200, 200, 429] == statuses


async def test_min_version_is_enforced(write: Writer, pki: Pki) -> None:
    """`min_version: TLS13`: a TLS 1.2-only client gets no session; a TLS 1.3 client does."""
    path = write(
        "web.yml",
        f"tls_server_config: {{cert_file: {pki.cert}, key_file: {pki.key}, min_version: TLS13}}\n",
    )
    state = WebState(load_web_config(path))
    app = web.Application()

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=state.listening_context())
        await site.start()
        url = f"https://127.0.0.1:{runner.addresses[0][1]}/"

        async def get(maximum: ssl.TLSVersion) -> int:
            tls = ssl.create_default_context(cafile=str(pki.ca))
            tls.maximum_version = maximum
            async with aiohttp.ClientSession() as s, s.get(url, ssl=tls) as r:
                return r.status

        assert 200 == await get(ssl.TLSVersion.TLSv1_3)
        with pytest.raises(aiohttp.ClientError):
            await get(ssl.TLSVersion.TLSv1_2)
    finally:
        await runner.cleanup()


async def test_renewed_certificate_applies_on_reload_without_restart(
    write: Writer, tmp_path: Path
) -> None:
    """After a reload, new TLS sessions present the new certificate (a client of the new CA)."""
    old, new = make_pki(tmp_path / "old"), make_pki(tmp_path / "new")
    web_path = write(
        "web.yml", f"tls_server_config: {{cert_file: {old.cert}, key_file: {old.key}}}\n"
    )
    config = write("w.yaml", "server: {web_config_file: web.yml}\nstorage: {path: ':memory:'}\n")
    daemon = Daemon(load_config(config))
    runner = web.AppRunner(build_app(daemon))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=daemon.web.listening_context())
        await site.start()
        url = f"https://127.0.0.1:{runner.addresses[0][1]}/-/healthy"

        async def status(ca: Path) -> int:
            tls = ssl.create_default_context(cafile=str(ca))
            async with aiohttp.ClientSession() as s, s.get(url, ssl=tls) as r:
                return r.status

        assert 200 == await status(old.ca)
        web_path.write_text(f"tls_server_config: {{cert_file: {new.cert}, key_file: {new.key}}}\n")
        assert [] == await daemon.reload()
        assert 200 == await status(new.ca)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await status(old.ca)
    finally:
        await runner.cleanup()


def test_changing_tls_on_reload_needs_a_restart(write: Writer, pki: Pki, tmp_path: Path) -> None:
    """Dropping TLS on reload keeps serving TLS (logged as restart needed), users apply."""
    path = write("web.yml", f"tls_server_config: {{cert_file: {pki.cert}, key_file: {pki.key}}}\n")
    state = WebState(load_web_config(path))
    listening = state.listening_context()
    path.write_text(f"basic_auth_users: {{u: '{SECRET_HASH}'}}\n")
    state.apply(load_web_config(path))
    assert state.config.ssl is not None
    assert ["u"] == list(state.config.users)
    assert listening is not None


def test_demo_listens_on_loopback_unless_the_image_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`watcher demo` binds 127.0.0.1; the container image opens it with WATCHER_DEMO_LISTEN."""
    from watcher.cli import main

    def listen_default() -> str:
        assert 0 == main(["demo", "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        return help_text.split("where the daemon listens (default ", 1)[1].split(",", 1)[0]

    monkeypatch.delenv("WATCHER_DEMO_LISTEN", raising=False)
    assert "127.0.0.1:9746" == listen_default()
    dockerfile = (Path(__file__).parent.parent / "Dockerfile").read_text(encoding="utf-8")
    assert "WATCHER_DEMO_LISTEN=0.0.0.0:9746" in dockerfile
    monkeypatch.setenv("WATCHER_DEMO_LISTEN", "0.0.0.0:9746")
    assert "0.0.0.0:9746" == listen_default()


def test_watcher_check_validates_the_web_config(
    write: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`watcher check` reports the web config's problems with its file and line, exit 1."""
    from watcher.commands import check

    web_path = write("web.yml", "http_server_config:\n  headers: {X-Frame-Options: allow}\n")
    config = write("w.yaml", "server: {web_config_file: web.yml}\nstorage: {path: ':memory:'}\n")
    assert 1 == check(str(config))
    _, err = capsys.readouterr()
    assert (
        f"{web_path}:2 http_server_config.headers.X-Frame-Options: invalid value, expected one of "
        'deny, sameorigin, got "allow"'
    ) in err.splitlines()


async def test_cross_site_writes_are_refused(
    serve: Callable[[str, str], Awaitable[Request]],
) -> None:
    """A form on another site cannot silence through a browser: foreign Origin 403, text/plain 415.

    A `<form enctype="text/plain">` can post a body that parses as JSON without a CORS
    preflight; Alertmanager's API only consumes application/json, and so does this one.
    """
    import json

    request = await serve("", "{}\n")
    evil = {"Origin": "https://evil.example"}
    assert 403 == (await request("POST", "/api/v2/silences", json=SILENCE, headers=evil))[0]
    assert 403 == (await request("POST", "/-/reload", headers=evil))[0]
    form = {"data": json.dumps(SILENCE), "headers": {"Content-Type": "text/plain"}}
    assert 415 == (await request("POST", "/api/v2/silences", **form))[0]
    assert (200, "[]") == await request("GET", "/api/v2/silences", headers=evil)
    status, _ = await request("POST", "/api/v2/silences", json=SILENCE)
    assert 200 == status
