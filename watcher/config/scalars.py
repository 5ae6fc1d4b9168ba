"""The config's leaf values and their hooks: numbers, durations, choices, sizes, URLs, templates.

Each hook takes the YAML value and returns the typed one or raises ``Invalid``; the model
(``watcher.config.model``) names them in ``Annotated`` field types, so a field says once what it
holds and what its default is. Text and the load in progress are ``watcher.config.context``'s,
secrets ``watcher.config.credentials``'s, labels and matchers ``watcher.config.labels``'s; this
module re-exports them, so a model imports every leaf hook from one place.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from watcher.config.context import CONTEXT, Context, expand, loading, plain_text, string
from watcher.config.credentials import (
    MAX_SECRET_FILE,
    Default,
    Secret,
    headers,
    read_secret_file,
    secret,
)
from watcher.config.labels import (
    Labels,
    Matchers,
    SourceLabels,
    labels,
    legacy_match,
    matchers,
    source_labels,
)
from watcher.durations import parse_duration
from watcher.gotemplate.alertmanager import check_text
from watcher.validate import Hook, Invalid, each, expected, refuse

__all__ = [
    "CONTEXT",
    "MAX_SECRET_FILE",
    "ByteSize",
    "Context",
    "Default",
    "Duration",
    "DurationOrZero",
    "HttpUrl",
    "Labels",
    "Matchers",
    "NonNegative",
    "Secret",
    "SecretUrl",
    "SourceLabels",
    "Template",
    "between",
    "boolean",
    "byte_size",
    "choice",
    "duration",
    "duration_or_zero",
    "expand",
    "headers",
    "http_url",
    "integer",
    "labels",
    "legacy_match",
    "loading",
    "matchers",
    "matching",
    "plain_text",
    "read_secret_file",
    "secret",
    "secret_url",
    "source_labels",
    "string",
    "template",
    "unique_choices",
]

# Prometheus's <size>: base-2 units (alecthomas/units Base2Bytes), "KiB" spellings too.
_SIZE = re.compile(r"^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)$")
_SIZE_UNITS = {"B": 1, "K": 2**10, "M": 2**20, "G": 2**30}
MAX_BODY_SIZE_LIMIT = 2**30
_URL = re.compile(r"^https?://[^\s/]+")


def integer(value: Any) -> int:
    """An integer (a string of one after ``${ENV}`` too)."""
    if isinstance(value, str):
        text = expand(value)
        try:
            value = int(text)
        except ValueError:
            value = text
    if isinstance(value, bool) or not isinstance(value, int):
        raise expected("an integer", value)
    return value


def boolean(value: Any) -> bool:
    """A YAML boolean."""
    if not isinstance(value, bool):
        raise expected("true or false", value)
    return value


def between(minimum: int | None = None, maximum: int | None = None) -> Hook:
    """An integer within bounds."""

    def read(value: Any) -> int:
        number = integer(value)
        if minimum is not None and number < minimum:
            msg = f"must be at least {minimum}, got {number}"
            raise Invalid(msg)
        if maximum is not None and number > maximum:
            msg = f"must be at most {maximum}, got {number}"
            raise Invalid(msg)
        return number

    return Hook(read)


def duration_or_zero(value: Any) -> float:
    """A Prometheus duration in seconds; 0 allowed."""
    try:
        return parse_duration(expand(value if isinstance(value, str) else str(value)))
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def duration(value: Any) -> float:
    """A Prometheus duration in seconds, greater than 0."""
    seconds = duration_or_zero(value)
    if seconds <= 0:
        raise Invalid("must be greater than 0")
    return seconds


def choice(*options: str) -> Hook:
    """A string that must be one of ``options``."""

    def read(value: Any) -> str:
        text = string(value)
        if text not in options:
            msg = f'expected one of {", ".join(options)}, got "{text}"'
            raise Invalid(msg)
        return text

    return Hook(read)


def matching(pattern: str, message: str) -> Hook:
    """A string matching ``pattern``; ``message`` words a mismatch (``{}`` is the value)."""
    regex = re.compile(pattern)

    def read(value: Any) -> str:
        text = string(value)
        if text and not regex.match(text):
            raise Invalid(message.format(text))
        return text

    return Hook(read)


def unique_choices(options: tuple[str, ...], what: str) -> Hook:
    """A non-empty list of distinct ``options`` (a ``what`` each)."""
    one = choice(*options).fn

    def read(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise expected("a list", value)
        chosen, problems = each(value, lambda _i, item: one(item))
        if not value:
            problems.append(Invalid(f"must list at least one {what}"))
        if len(set(chosen)) != len(chosen):
            problems.append(Invalid(f"lists a {what} twice"))
        refuse(problems, what)
        return tuple(chosen)

    return Hook(read)


def http_url(value: Any) -> str:
    """An http(s) URL, without a trailing ``/``."""
    url = string(value)
    if url and not _URL.match(url):
        msg = f'expected an http(s) URL, got "{url}"'
        raise Invalid(msg)
    return url.rstrip("/")


def secret_url(value: Any) -> Secret:
    """A secret that is an http(s) URL (a webhook's: its value is never shown)."""
    default = value if isinstance(value, Default) else None
    url = secret(value) if default is None else default.value
    if not _URL.match(url.get()):
        msg = "expected an http(s) URL (value not shown: it is a secret)"
        raise Invalid(msg, where=None if default is None else default.at)
    return url


def byte_size(value: Any) -> int:
    """A byte size like ``32MiB`` or ``512KB`` (Prometheus's base-2 units), 1 KiB to 1 GiB."""
    match = _SIZE.match(str(value).strip()) if not isinstance(value, bool) else None
    if match is None:
        msg = f'expected a size like 32MiB or 512KB, got "{str(value)[:40]}"'
        raise Invalid(msg)
    size = int(match[1]) * _SIZE_UNITS[match[2][0]]
    if not 1024 <= size <= MAX_BODY_SIZE_LIMIT:
        msg = f"must be from 1KiB to 1GiB, got {match[0]}"
        raise Invalid(msg)
    return size


def template(value: Any) -> str:
    """A Go template text (never ``${ENV}``-expanded), parsed against the loaded templates."""
    text = plain_text(value)
    problem = check_text(CONTEXT.get().templates, text)
    if problem is not None:
        raise Invalid(problem)
    return text


Duration = Annotated[float, Hook(duration)]
DurationOrZero = Annotated[float, Hook(duration_or_zero)]
HttpUrl = Annotated[str, Hook(http_url)]
ByteSize = Annotated[int, Hook(byte_size)]
Template = Annotated[str, Hook(template)]
SecretUrl = Annotated[Secret, Hook(secret_url)]
NonNegative = Annotated[int, between(minimum=0)]
