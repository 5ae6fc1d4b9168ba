"""A real SMTP server (aiosmtpd) on 127.0.0.1, an OS-picked port, for the email tests.

It runs in the test's own event loop (``loop.create_server``), offers STARTTLS when given a
certificate and AUTH (PLAIN and LOGIN) when given users, and records every message with its
envelope and the user that authenticated.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.pki import Pki


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    user: str | None
    tls: bool

    def message(self) -> EmailMessage:
        """The message parsed by the standard library."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class MailSink:
    """What the server received, and how to reach it."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, user)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Record the message."""
        auth = session.auth_data
        user = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.received.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                bytes(envelope.original_content or b""),
                user,
                session.ssl is not None,
            )
        )
        return "250 OK"


def _authenticator(users: dict[str, str], sink: MailSink) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = users.get(user) == password
        if ok:
            sink.logins.append((mechanism, user))
        return AuthResult(success=ok, auth_data=data)

    return check


class _Smtp(SMTP):
    # What real servers (Postfix, Exchange) ask; Go's LOGIN client (Alertmanager's) accepts only
    # these, not aiosmtpd's "User Name\0".
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"


@asynccontextmanager
async def smtp_server(
    pki: Pki | None = None,
    users: dict[str, str] | None = None,
    *,
    require_starttls: bool = False,
    exclude: tuple[str, ...] = ("CRAM-MD5",),
) -> AsyncIterator[MailSink]:
    """Serve SMTP on 127.0.0.1 until the block ends."""
    sink = MailSink()
    context = None
    if pki is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.cert, pki.key)

    def factory() -> SMTP:
        return _Smtp(
            sink,
            hostname="mail.test",
            tls_context=context,
            require_starttls=require_starttls,
            authenticator=_authenticator(users, sink) if users else None,
            auth_require_tls=context is not None,
            auth_exclude_mechanism=list(exclude) if users else None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


def mail_shape(r: Received) -> dict[str, Any]:
    """What two senders of the same mail must agree on: envelope, auth, TLS, the headers that
    matter, the parts and their decoded bodies (not Message-Id, Date or the boundary)."""
    msg: EmailMessage = r.message()
    parts = [
        (
            p.get_content_type(),
            p.get_content_charset(),
            p["Content-Transfer-Encoding"],
            p.get_content(),
        )
        for p in msg.iter_parts()
    ]
    return {
        "envelope": (r.mail_from, sorted(r.rcpt_tos)),
        "user": r.user,
        "tls": r.tls,
        "headers": {
            k: str(msg[k])
            for k in ("Subject", "To", "From", "X-Team", "Reply-To", "MIME-Version")
            if msg[k] is not None
        },
        "content_type": msg.get_content_type(),
        "has_boundary": bool(msg.get_boundary()),
        "message_id": msg["Message-Id"] is not None,
        "date": msg["Date"] is not None,
        "parts": parts,
    }
