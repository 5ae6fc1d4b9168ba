"""email_configs against a real SMTP server (aiosmtpd on 127.0.0.1): TLS, AUTH, errors, config."""

from __future__ import annotations

import asyncio
import io
import quopri
from dataclasses import replace
from email.header import decode_header
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from tests.am_support import free_port
from tests.pki import make_pki
from tests.smtp_support import smtp_server
from watcher.alerts import Alert
from watcher.clock import FakeClock
from watcher.config import Config, parse_config
from watcher.errors import ConfigError, NotifyError
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher
from watcher.notify.amconfig import alertmanager_yaml
from watcher.notify.data import NotificationData
from watcher.notify.email import EmailNotifier, q_encode, quoted_printable
from watcher.state import open_db

T0 = 1_700_000_000.0
PASSWORD = "hunter2-s3cret"
ALERT = Alert(
    {"alertname": "CouponExpiring", "instance": "c-1"},
    {"summary": "Coupon <c-1> expires"},
    T0 - 60,
    None,
    1.0,
    "http://w/graph",
)


def _data() -> NotificationData:
    return NotificationData("ops", "k", {"alertname": "CouponExpiring"}, (ALERT,), "http://w", T0)


def _config(tmp_path: Path, email: str, global_: str = "") -> Config:
    text = (
        f"global:\n  external_url: http://w\n{global_}"
        "route: {receiver: ops}\n"
        f"receivers:\n  - name: ops\n    email_configs:\n      - {email}\n"
    )
    return parse_config(text, tmp_path / "watcher.yaml")


async def _send(config: Config) -> None:
    notifier = EmailNotifier(config.receivers[0].email_configs[0])
    await notifier.deliver(notifier.render(_data()), T0)


async def test_starttls_and_auth_plain_with_identity(tmp_path: Path) -> None:
    """Over STARTTLS the watcher authenticates with PLAIN when that is all the server offers."""
    pki = make_pki(tmp_path / "pki")
    users = {"alice": PASSWORD}
    async with smtp_server(pki, users, require_starttls=True, exclude=("LOGIN",)) as sink:
        config = _config(
            tmp_path,
            f"{{to: ops@example.org, from: w@example.org, smarthost: '127.0.0.1:{sink.port}', "
            f"auth_username: alice, auth_password: '{PASSWORD}', auth_identity: alice, "
            f"tls_config: {{ca_file: '{pki.ca}'}}}}",
        )
        await _send(config)
    assert [("PLAIN", "alice")] == sink.logins
    (mail,) = sink.received
    assert (True, "alice", ["ops@example.org"]) == (mail.tls, mail.user, mail.rcpt_tos)
    message = mail.message()
    assert "[FIRING:1] CouponExpiring (c-1)" == message["Subject"]
    html = message.get_body(("html",))
    assert html is not None
    assert "Coupon &lt;c-1&gt; expires" in html.get_content()


async def test_require_tls_refuses_a_server_without_starttls(tmp_path: Path) -> None:
    """require_tls (the default) against a server offering no STARTTLS fails, sending nothing."""
    async with smtp_server() as sink:
        config = _config(
            tmp_path,
            f"{{to: ops@example.org, from: w@example.org, smarthost: '127.0.0.1:{sink.port}'}}",
        )
        with pytest.raises(NotifyError, match="does not advertise the STARTTLS extension"):
            await _send(config)
    assert [] == sink.received


async def test_plain_text_without_tls_when_allowed(tmp_path: Path) -> None:
    """require_tls: false sends over plain SMTP (a local relay), with the global defaults."""
    async with smtp_server() as sink:
        config = _config(
            tmp_path,
            "{to: 'a@example.org, B <b@example.org>', require_tls: false}",
            f"  smtp_smarthost: '127.0.0.1:{sink.port}'\n  smtp_from: 'W <w@example.org>'\n",
        )
        await _send(config)
    (mail,) = sink.received
    assert ("w@example.org", ["a@example.org", "b@example.org"], False) == (
        mail.mail_from,
        mail.rcpt_tos,
        mail.tls,
    )


async def test_a_dead_smarthost_is_a_retryable_error_naming_no_secret(tmp_path: Path) -> None:
    """Nothing listening: a NotifyError to retry; the password is in neither it nor the logs."""
    config = _config(
        tmp_path,
        f"{{to: a@example.org, from: w@example.org, smarthost: '127.0.0.1:{free_port()}', "
        f"auth_username: u, auth_password: '{PASSWORD}'}}",
    )
    with capture_logs() as logs, pytest.raises(NotifyError) as info:
        await asyncio.wait_for(_send(config), 10)
    assert not info.value.permanent
    assert PASSWORD not in str(info.value) + repr(logs)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    """Missing to, no smarthost anywhere, a duplicate header and a bad template are reported."""
    with pytest.raises(ConfigError) as info:
        _config(
            tmp_path,
            "{from: w@example.org, headers: {subject: a, Subject: b}, html: '{{ .Nope '}",
        )
    problems = "\n".join(info.value.problems)
    assert "email_configs[0].to: missing to address in email config" in problems
    assert "email_configs[0].smarthost: no global SMTP smarthost set" in problems
    assert 'duplicate header "Subject" in email config' in problems
    assert "email_configs[0].html: template: :1:" in problems


def test_config_original_hides_the_password(tmp_path: Path) -> None:
    """config.original shows the email config as Alertmanager YAML with <secret> for secrets."""
    config = _config(
        tmp_path,
        f"{{to: a@example.org, auth_username: u, auth_password: '{PASSWORD}'}}",
        "  smtp_smarthost: 'mail.example.org:587'\n  smtp_from: w@example.org\n",
    )
    text = alertmanager_yaml(config)
    assert PASSWORD not in text
    (entry,) = yaml.safe_load(text)["receivers"][0]["email_configs"]
    assert ("mail.example.org:587", "<secret>", "w@example.org") == (
        entry["smarthost"],
        entry["auth_password"],
        entry["from"],
    )


def test_header_and_body_encodings_round_trip() -> None:
    """Non-ASCII headers become RFC 2047 words; bodies quoted-printable with CRLF and soft breaks."""
    subject = "Ünïcödé " + "é" * 80 + " = ? _"
    words = q_encode(subject)
    assert all(len(w) <= 75 for w in words.split(" "))
    decoded = "".join(
        part.decode(enc or "ascii") if isinstance(part, bytes) else part
        for part, enc in decode_header(words)
    )
    assert subject == decoded
    body = "line one \nx" * 3 + "é" * 100 + "\n= end\t"
    encoded = quoted_printable(body)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert body.replace("\n", "\r\n") == quopri.decodestring(encoded).decode()


async def test_a_mail_server_that_never_answers_does_not_delay_slack(tmp_path: Path) -> None:
    """One receiver, email and Slack: the SMTP server accepts and never greets; the Slack
    message still leaves at group_wait, and the mail is given up at the dispatch timeout and
    kept in the outbox for a later try."""
    clock = FakeClock(T0)
    slack_at: list[float] = []

    async def slack(request: web.Request) -> web.Response:
        slack_at.append(clock.time() - T0)
        return web.Response(text="ok")

    async def tarpit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never a 220 greeting; the client hangs up in the end
        writer.close()

    pit = await asyncio.start_server(tarpit, "127.0.0.1", 0)
    app = web.Application()
    app.router.add_post("/slack", slack)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    text = (
        "route: {receiver: ops, group_wait: 10s, group_interval: 1m}\n"
        "receivers:\n  - name: ops\n"
        f"    slack_configs: [{{api_url: 'http://127.0.0.1:{runner.addresses[0][1]}/slack'}}]\n"
        f"    email_configs: [{{to: a@example.org, from: w@example.org, require_tls: false, "
        f"smarthost: '127.0.0.1:{pit.sockets[0].getsockname()[1]}'}}]\n"
    )
    try:
        async with aiohttp.ClientSession() as session:
            d = Dispatcher(
                parse_config(text, tmp_path / "watcher.yaml"),
                db=open_db(str(tmp_path / "s.db")),
                session=session,
                clock=clock,
                metrics=WatcherMetrics(CollectorRegistry()),
                console=io.StringIO(),
            )
            task = asyncio.create_task(d.run())
            await d.send([replace(ALERT, starts_at=T0)], clock.time())
            while clock.time() < T0 + 90:
                await clock.sleep(5)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            queued = [(row.integration, row.attempts > 0) for row in d.queued()]
    finally:
        await runner.cleanup()
        pit.close()
    assert [10.0] == slack_at
    assert [("email", True)] == queued
