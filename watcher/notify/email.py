"""``email_configs``: the mail Alertmanager's email notifier sends, over aiosmtplib.

Follows ``notify/email/email.go`` (0.25): connect to ``smarthost`` (implicit TLS on port 465),
``EHLO hello``; with ``require_tls`` the server must offer STARTTLS and the session is
upgraded; when the server offers AUTH and ``auth_username`` is set, the first mechanism in the
server's list that has its credentials is used (CRAM-MD5 with ``auth_secret``, PLAIN with
``auth_identity`` and the password, which Go refuses over plain text to any host but
localhost, LOGIN). Then ``MAIL FROM`` the one ``from`` address, ``RCPT TO`` each ``to``
address, and the message: the headers (values Q-encoded where needed), ``Message-Id``,
``Date``, ``multipart/alternative`` with the ``text`` part first and the ``html`` part last
(RFC 2046 5.1.4), both quoted-printable. ``html`` runs through Go's ``html/template``
escaping. Template and address errors are permanent; connection and SMTP errors are retried.
"""

from __future__ import annotations

import base64
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, getaddresses

import aiosmtplib
import structlog

from watcher.config.model import EmailConfig, TlsConfig
from watcher.errors import NotifyError
from watcher.gotemplate import ExecError, Templates
from watcher.gotemplate.alertmanager import load_templates, template_data
from watcher.notify.base import Payload
from watcher.notify.data import NotificationData

log = structlog.get_logger(__name__)

_LOCALHOST = ("localhost", "127.0.0.1", "::1")
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_QP_LINE = 76


def q_encode(value: str) -> str:
    """Go's ``mime.QEncoding.Encode("utf-8", value)``: as it is when printable ASCII, else
    ``=?utf-8?q?…?=`` words of at most 75 characters, never splitting a character."""
    if all(" " <= c <= "~" or c == "\t" for c in value):
        return value
    words, word = [], ""
    for ch in value:
        if ch == " ":
            enc = "_"
        elif "!" <= ch <= "~" and ch not in "=?_":
            enc = ch
        else:
            enc = "".join(f"={b:02X}" for b in ch.encode())
        if len("=?utf-8?q?") + len(word) + len(enc) + 2 > 75:
            words.append(word)
            word = ""
        word += enc
    words.append(word)
    return " ".join(f"=?utf-8?q?{w}?=" for w in words)


def quoted_printable(text: str) -> bytes:
    """Go's ``quotedprintable.Writer``: CRLF line ends, soft breaks before 76 characters,
    ``=XX`` for non-printable bytes and for whitespace ending a line."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        encoded, width = [], 0
        raw = line.encode()
        for i, b in enumerate(raw):
            last = i == len(raw) - 1
            literal = (33 <= b <= 126 and b != 61) or (b in (9, 32) and not last)
            piece = chr(b) if literal else f"={b:02X}"
            if width + len(piece) > _QP_LINE - 1:
                encoded.append("=\r\n")
                width = 0
            encoded.append(piece)
            width += len(piece)
        out.append("".join(encoded))
    return "\r\n".join(out).encode("ascii")


def build_message(payload: Payload, *, hostname: str, now: float) -> bytes:
    """The DATA Alertmanager writes: headers, ``Message-Id``, ``Date``, the parts."""
    boundary = secrets.token_hex(30)
    lines = [f"{name}: {q_encode(value)}" for name, value in payload["headers"]]
    if not any(name == "Message-Id" for name, _ in payload["headers"]):
        lines.append(f"Message-Id: <{time.time_ns()}.{secrets.randbits(64)}@{hostname}>")
    lines.append(f"Date: {format_datetime(datetime.fromtimestamp(now, UTC))}")
    lines.append(f"Content-Type: multipart/alternative;  boundary={boundary}")
    lines.append("MIME-Version: 1.0")
    body = ("\r\n".join(lines) + "\r\n\r\n").encode()
    parts = [(k, payload[k]) for k in ("text", "html") if payload.get(k)]
    for i, (kind, content) in enumerate(parts):
        body += f"{'' if i == 0 else chr(13) + chr(10)}--{boundary}\r\n".encode()
        body += b"Content-Transfer-Encoding: quoted-printable\r\n"
        body += f"Content-Type: text/{'plain' if kind == 'text' else 'html'}; charset=UTF-8\r\n\r\n".encode()
        body += quoted_printable(content)
    return body + f"\r\n--{boundary}--\r\n".encode()


def parse_addresses(text: str, what: str) -> list[str]:
    """The addresses of an RFC 5322 address list; raise a permanent ``NotifyError``."""
    pairs = getaddresses([text])
    addresses = [addr for _, addr in pairs]
    if not addresses or any(
        "@" not in a or a.startswith("@") or a.endswith("@") for a in addresses
    ):
        msg = f"email: parse '{what}' addresses: not an address list"
        raise NotifyError(msg, permanent=True)
    return addresses


def tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """An ``SSLContext`` for ``tls_config``; raise a permanent ``NotifyError`` when its files
    cannot be used."""
    try:
        ctx = ssl.create_default_context(cafile=tls.ca_file or None)
        if tls.cert_file:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        msg = f"email: parse TLS configuration: {type(exc).__name__}"
        raise NotifyError(msg, permanent=True) from None
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.min_version:
        ctx.minimum_version = _TLS_VERSIONS[tls.min_version]
    return ctx


class EmailNotifier:
    """Sends one mail per notification to the ``smarthost``."""

    name = "email"

    def __init__(self, config: EmailConfig, templates: Templates | None = None) -> None:
        self._config = config
        self._templates = templates or load_templates()
        self._hostname = socket.gethostname() or "localhost.localdomain"

    @property
    def send_resolved(self) -> bool:
        """``send_resolved`` (default false for email, as upstream)."""
        return self._config.send_resolved

    def render(self, data: NotificationData) -> Payload:
        """The headers and bodies, templated now; the SMTP session happens at delivery."""
        c = self._config
        tdata = template_data(data)
        errors: list[str] = []

        def run(what: str, text: str, execute: Callable[[str, object], str]) -> str:
            try:
                return execute(text, tdata)
            except ExecError as exc:
                log.warning("notify.template_failed", integration="email", key=what, error=str(exc))
                errors.append(f"execute {what!r} template: {exc}")
                return ""

        text_of = self._templates.execute_text
        return {
            "from": run("from", c.from_, text_of),
            "to": run("to", c.to, text_of),
            "headers": [[k, run(f"{k} header", v, text_of)] for k, v in c.headers.items()],
            "text": run("text", c.text, text_of),
            "html": run("html", c.html, self._templates.execute_html),
            "errors": errors,
        }

    async def deliver(self, payload: Payload, now: float) -> None:
        """One SMTP session: connect, TLS, AUTH, MAIL, RCPT, DATA, QUIT."""
        if payload.get("errors"):
            msg = f"email: {payload['errors'][0]}"
            raise NotifyError(msg, permanent=True)
        senders = parse_addresses(payload["from"], "from")
        if len(senders) != 1:
            msg = f"email: must be exactly one 'from' address (got: {len(senders)})"
            raise NotifyError(msg, permanent=True)
        recipients = parse_addresses(payload["to"], "to")
        c = self._config
        host, port = c.smarthost
        ctx = tls_context(c.tls)
        smtp = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            local_hostname=c.hello,
            use_tls=port == 465,
            start_tls=False,
            tls_context=ctx,
            timeout=None,  # the delivery's deadline bounds the session (pipeline.py)
        )
        step = "establish connection to server"
        try:
            await smtp.connect()
            step = "send EHLO command"
            await smtp.ehlo()
            if c.require_tls:
                if not smtp.supports_extension("starttls"):
                    msg = (
                        f"email: 'require_tls' is true (default) but \"{host}:{port}\" does not "
                        "advertise the STARTTLS extension"
                    )
                    raise NotifyError(msg)
                step = "send STARTTLS command"
                await smtp.starttls(tls_context=ctx, server_hostname=c.tls.server_name or host)
                await smtp.ehlo()  # the extensions offered over TLS (Go's StartTLS does too)
            if smtp.supports_extension("auth") and c.auth_username:
                step = "auth"
                await self._auth(smtp, tls=c.require_tls or port == 465)
            step = "send MAIL command"
            await smtp.mail(senders[0])
            step = "send RCPT command"
            for address in recipients:
                await smtp.rcpt(address)
            step = "send DATA command"
            await smtp.data(build_message(payload, hostname=self._hostname, now=now))
        except aiosmtplib.SMTPResponseException as exc:
            # The server's own reply: its code and a bounded text (never our credentials).
            msg = f"email: {step}: {exc.code} {exc.message[:200]}"
            raise NotifyError(msg, permanent=500 <= exc.code < 600 and step != "auth") from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            msg = f"email: {step}: {type(exc).__name__}"
            raise NotifyError(msg) from None
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()

    async def _auth(self, smtp: aiosmtplib.SMTP, *, tls: bool) -> None:
        c = self._config
        password = c.auth_password.get() if c.auth_password else ""
        problems = []
        for mech in smtp.server_auth_methods:
            if mech == "cram-md5":
                if c.auth_secret:
                    await smtp.auth_crammd5(c.auth_username, c.auth_secret.get())
                    return
                problems.append("missing secret for CRAM-MD5 auth mechanism")
            elif mech == "plain":
                if not password:
                    problems.append("missing password for PLAIN auth mechanism")
                    continue
                if not tls and c.smarthost[0] not in _LOCALHOST:
                    msg = "email: auth: unencrypted connection"  # Go's smtp.PlainAuth
                    raise NotifyError(msg)
                raw = f"{c.auth_identity}\0{c.auth_username}\0{password}".encode()
                reply = await smtp.execute_command(b"AUTH", b"PLAIN", base64.b64encode(raw))
                if reply.code != 235:
                    raise aiosmtplib.SMTPAuthenticationError(reply.code, reply.message)
                return
            elif mech == "login":
                if password:
                    await smtp.auth_login(c.auth_username, password)
                    return
                problems.append("missing password for LOGIN auth mechanism")
        detail = (
            "; ".join(problems)
            or "unknown auth mechanism: " + " ".join(smtp.server_auth_methods).upper()
        )
        msg = f"email: find auth mechanism: {detail}"
        raise NotifyError(msg)
