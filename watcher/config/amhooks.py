"""Leaf hooks of Alertmanager's receiver keys: their URLs, templated secrets, SMTP values.

Each takes the YAML value (or what a ``before`` check put in its place) and returns the typed
one or raises ``Invalid`` with Alertmanager's wording, as ``watcher.config.scalars`` does for
the keys every section shares; ``watcher.config.receivers`` names them in its field types.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from watcher.config.scalars import (
    CONTEXT,
    Secret,
    choice,
    http_url,
    integer,
    plain_text,
    secret,
    string,
)
from watcher.config.scalars import template as checked_template
from watcher.gotemplate.alertmanager import check_text
from watcher.validate import Invalid, each, refuse

_RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")
PARSE_MODES = ("Markdown", "MarkdownV2", "HTML", "")


def am_url(value: Any) -> str:
    """A URL Alertmanager's ``config.URL`` takes: http(s) (the value shown cut at 80)."""
    url = string(value)
    if url and not url.startswith(("http://", "https://")):
        msg = f'expected an http(s) URL, got "{url[:80]}"'
        raise Invalid(msg)
    return url


def slashed_url(value: Any) -> str:
    """``am_url``, ending in ``/`` (Opsgenie's API URL: paths are joined to it)."""
    url = am_url(value)
    return url if url.endswith("/") else url + "/"


def api_url(value: Any) -> str:
    """An http(s) URL with a host, never empty, without a trailing ``/`` (Telegram's)."""
    url = http_url(value)
    if not url:
        raise Invalid('expected an http(s) URL, got ""')
    return url


def templated_secret(value: Any) -> Secret:
    """A secret Alertmanager renders as a template: it must parse, and is never quoted.

    A ``Secret`` is one a ``before`` check took from ``global`` (already read).
    """
    key = value if isinstance(value, Secret) else secret(value)
    if "{{" in key.get() and check_text(CONTEXT.get().templates, key.get()) is not None:
        raise Invalid("does not parse as a template (value not shown: a secret)")
    return key


def url_secret(value: Any) -> Secret:
    """A secret http(s) URL (a Teams webhook's), its value never shown."""
    url = secret(value)
    if not url.get().startswith(("http://", "https://")):
        raise Invalid("expected an http(s) URL (value not shown: it is a secret)")
    return url


class InlineSecret(Secret):
    """A secret Alertmanager takes only inline (``auth_secret``: it has no ``_file`` key)."""

    __slots__ = ()


def inline_secret(value: Any) -> InlineSecret:
    """An ``InlineSecret``."""
    return InlineSecret(secret(value).get())


def _template_or_empty(_key: str, raw: Any) -> str:
    return "" if raw is None else checked_template(raw)


def template_map(value: Any) -> dict[str, str]:
    """A mapping of names to template strings (``details:``); a null value is ``""``."""
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of names to template strings")
    texts, problems = each(value, _template_or_empty)
    refuse(problems, "details")
    return dict(zip((str(k) for k in value), texts, strict=True))


def responder_type(text: str) -> bool:
    """Whether Opsgenie takes ``text`` as a responder type (Alertmanager 0.25 lower-cases it
    to check, and sends it as written; a template is checked when it is sent)."""
    return "{{" in text or text.lower() in _RESPONDER_TYPES


def as_text(value: Any) -> str:
    """A scalar as the text a template key holds; anything else as ``""`` (refused there)."""
    try:
        return plain_text(value)
    except Invalid:
        return ""


# -- email -----------------------------------------------------------------------------------


def canonical_header(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` is ``Content-Type``."""
    if not name or any(not (c.isascii() and (c.isalnum() or c == "-")) for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def parse_smarthost(text: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port``), as Go's ``net.SplitHostPort`` with a numeric port."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def smarthost(value: Any) -> tuple[str, int]:
    """An SMTP ``host:port``; ``("", 0)`` for an empty one (not set)."""
    text = string(value)
    if not text:
        return ("", 0)
    parsed = parse_smarthost(text)
    if parsed is None:
        msg = f'expected host:port like smtp.example.com:587, got "{text}"'
        raise Invalid(msg)
    return parsed


def email_headers(value: Any) -> dict[str, str]:
    """Header templates by canonical name; a name given twice (any case) is refused."""
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of header names to templates")
    first: dict[str, Any] = {}  # canonical name -> the key that gave it
    problems: list[Exception] = []
    for key in value:
        name = canonical_header(str(key))
        if name in first:
            problems.append(Invalid(f'duplicate header "{name}" in email config', (str(key),)))
        else:
            first[name] = key
    texts, bad = each({key: value[key] for key in first.values()}, _template_or_empty)
    refuse([*problems, *bad], "headers")
    return dict(zip(first, texts, strict=True))


def config_path(value: Any) -> str:
    """A file name, relative to the config's folder unless absolute (read when used)."""
    name = string(value)
    if name and not name.startswith("/"):
        return str(CONTEXT.get().base_dir / FsPath(name))
    return name


def tls_version(value: Any) -> str:
    """``TLS10`` ... ``TLS13``, or empty (Go's default)."""
    version = string(value)
    if version and version not in TLS_VERSIONS:
        msg = f'expected one of {", ".join(TLS_VERSIONS)}, got "{version}"'
        raise Invalid(msg)
    return version


# -- telegram --------------------------------------------------------------------------------


def chat_id(value: Any) -> int:
    """A Telegram chat id: a non-zero integer."""
    number = integer(value)
    if number == 0:
        raise Invalid("missing chat_id on telegram_config")
    return number


def parse_mode(value: Any) -> str:
    """Telegram's ``parse_mode``: Markdown, MarkdownV2, HTML or empty."""
    try:
        return str(choice(*PARSE_MODES).fn(value))
    except Invalid:
        msg = f'unknown parse_mode "{string(value)}": must be Markdown, MarkdownV2, HTML or empty'
        raise Invalid(msg) from None
