"""The config's leaf values and their hooks: ``${ENV}`` strings, durations, sizes, URLs, secrets.

Each hook takes the YAML value and returns the typed one or raises ``Invalid``; the model
(``watcher.config.model``) names them in ``Annotated`` field types, so a field says once what it
holds and what its default is. ``CONTEXT`` carries what a hook needs from the load in progress:
the environment, the config's folder (for ``*_file``) and the notification templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Annotated, Any

from watcher.durations import parse_duration
from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import check_text, load_templates
from watcher.matchers import LABEL_NAME, Matcher, parse_matcher, parse_matchers
from watcher.validate import FilePair, Hook, Invalid, describe
from watcher.yamlpos import Path

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Prometheus's <size>: base-2 units (alecthomas/units Base2Bytes), "KiB" spellings too.
_SIZE = re.compile(r"^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)$")
_SIZE_UNITS = {"B": 1, "K": 2**10, "M": 2**20, "G": 2**30}
MAX_BODY_SIZE_LIMIT = 2**30
_URL = re.compile(r"^https?://[^\s/]+")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
#: Largest secret file read (a key, a token, a webhook URL are far smaller).
MAX_SECRET_FILE = 64 * 1024


class Secret:
    """A credential: its ``str``/``repr`` never show the value, so it cannot leak into logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    def __str__(self) -> str:
        return "<redacted>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Context:
    """What hooks need from the load in progress."""

    env: Mapping[str, str]
    base_dir: FsPath
    templates: Templates = field(default_factory=load_templates)
    #: ``global.http_config``: a receiver's HTTP settings when it gives none (Alertmanager)
    global_http: Any = None
    #: ``global.slack_api_url[_file]``: the Slack webhook of entries without their own
    slack_api_url: Secret | None = None


CONTEXT: ContextVar[Context] = ContextVar("config_context")


def expand(text: str) -> str:
    """Replace ``${VAR}`` with the environment's value; an unset variable is refused."""
    if "${" not in text:
        return text
    env = CONTEXT.get().env
    missing = [name for name in _ENV.findall(text) if name not in env]
    if missing:
        msg = f"environment variable {missing[0]} is not set"
        raise Invalid(msg)
    return _ENV.sub(lambda m: env[m.group(1)], text)


def plain_text(value: Any) -> str:
    """A scalar as text, unexpanded (a template keeps its ``${...}``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        msg = f"expected a string, got {describe(value)}"
        raise Invalid(msg)
    return value if isinstance(value, str) else str(value)


def string(value: Any) -> str:
    """A string (a number is read as its text), ``${ENV}`` expanded."""
    return expand(plain_text(value))


def integer(value: Any) -> int:
    """An integer (a string of one after ``${ENV}`` too)."""
    if isinstance(value, str):
        text = expand(value)
        try:
            value = int(text)
        except ValueError:
            value = text
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"expected an integer, got {describe(value)}"
        raise Invalid(msg)
    return value


def boolean(value: Any) -> bool:
    """A YAML boolean."""
    if not isinstance(value, bool):
        msg = f"expected true or false, got {describe(value)}"
        raise Invalid(msg)
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

    def read(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            msg = f"expected a list, got {describe(value)}"
            raise Invalid(msg)
        chosen: list[str] = []
        problems: list[Exception] = []
        for i, item in enumerate(value):
            try:
                chosen.append(choice(*options).fn(item))
            except Invalid as exc:
                problems.append(Invalid(exc.message, (i,)))
        if not value:
            problems.append(Invalid(f"must list at least one {what}"))
        if len(set(chosen)) != len(chosen):
            problems.append(Invalid(f"lists a {what} twice"))
        if problems:
            raise ExceptionGroup(what, problems)
        return tuple(chosen)

    return Hook(read)


def http_url(value: Any) -> str:
    """An http(s) URL, without a trailing ``/``."""
    url = string(value)
    if url and not _URL.match(url):
        msg = f'expected an http(s) URL, got "{url}"'
        raise Invalid(msg)
    return url.rstrip("/")


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


def labels(value: Any) -> dict[str, str]:
    """A mapping of label names to string values."""
    if not isinstance(value, Mapping):
        msg = f"expected a mapping of labels, got {describe(value)}"
        raise Invalid(msg)
    out: dict[str, str] = {}
    problems: list[Exception] = []
    for key, raw in value.items():
        name = str(key)
        if not LABEL_NAME.match(name) or name.startswith("__"):
            problems.append(Invalid(f'invalid label name "{name}"', (name,)))
            continue
        try:
            out[name] = string(raw)
        except Invalid as exc:
            problems.append(Invalid(exc.message, (name,)))
    if problems:
        raise ExceptionGroup("labels", problems)
    return out


def source_labels(value: Any) -> dict[str, str]:
    """A source's ``labels``: ``source`` is not one of them, watcher sets it."""
    out = labels(value)
    if "source" in out:
        raise Invalid('label "source" is set by watcher', ("source",))
    return out


def template(value: Any) -> str:
    """A Go template text (never ``${ENV}``-expanded), parsed against the loaded templates."""
    text = plain_text(value)
    problem = check_text(CONTEXT.get().templates, text)
    if problem is not None:
        raise Invalid(problem)
    return text


def matchers(value: Any) -> tuple[Matcher, ...]:
    """Alertmanager ``matchers:`` strings, each possibly holding several comma-separated."""
    if not isinstance(value, list):
        msg = f"expected a list, got {describe(value)}"
        raise Invalid(msg)
    out: list[Matcher] = []
    problems: list[Exception] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(Invalid(f"expected a matcher string, got {describe(item)}", (i,)))
            continue
        try:
            out.extend(
                parse_matchers(item) if "," in item or "{" in item else [parse_matcher(item)]
            )
        except ValueError as exc:
            problems.append(Invalid(str(exc), (i,)))
    if problems:
        raise ExceptionGroup("matchers", problems)
    return tuple(out)


def legacy_match(op: str) -> Hook:
    """Alertmanager's deprecated ``match:`` (``=``) / ``match_re:`` (``=~``) mappings."""

    def read(value: Any) -> tuple[Matcher, ...]:
        if not isinstance(value, Mapping):
            msg = f"expected a mapping, got {describe(value)}"
            raise Invalid(msg)
        out: list[Matcher] = []
        problems: list[Exception] = []
        for key, raw in value.items():
            try:
                out.append(Matcher.make(str(key), op, str(raw)))
            except ValueError as exc:
                problems.append(Invalid(str(exc), (str(key),)))
        if problems:
            raise ExceptionGroup("match", problems)
        return tuple(out)

    return Hook(read)


# -- secrets: ``key`` inline or ``key_file`` -------------------------------------------------


def secret(value: Any) -> Secret:
    """A secret given inline, or named in ``*_file`` (a file whose content, stripped, is it)."""
    if not isinstance(value, FilePair):
        value = FilePair("", inline=value)
    key = value.key
    if value.inline is not None and value.file is not None:
        msg = f"give either {key} or {key}_file, not both"
        raise Invalid(msg)
    if value.file is not None:
        return read_secret_file(value.file, f"{key}_file")
    if value.inline is None:
        msg = f"is required (or {key}_file)"
        raise Invalid(msg)
    text = string(value.inline)
    if not text:
        raise Invalid("is empty")
    return Secret(text)


def read_secret_file(raw_name: Any, key: str) -> Secret:
    """The stripped content of the file ``raw_name`` (relative to the config); problems at ``key``."""
    try:
        name = string(raw_name)
    except Invalid as exc:
        raise Invalid(exc.message, key=key) from None
    path = FsPath(name) if FsPath(name).is_absolute() else CONTEXT.get().base_dir / name
    try:
        with path.open("rb") as f:  # bounded: a path like /dev/zero must not hang us
            raw = f.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        msg = f"cannot read secret file {name}: {exc.strerror}"
        raise Invalid(msg, key=key) from None
    if len(raw) > MAX_SECRET_FILE:
        msg = f"secret file {name} is larger than {MAX_SECRET_FILE} bytes"
        raise Invalid(msg, key=key)
    try:  # the content is never quoted: only where it went wrong
        return Secret(raw.decode("utf-8").strip())
    except UnicodeDecodeError as exc:
        msg = f"secret file {name} is not UTF-8 text (byte {exc.start})"
        raise Invalid(msg, key=key) from None


def headers(value: Any) -> dict[str, Secret]:
    """Static HTTP headers, each a secret given inline (``Name: value``) or as ``Name_file``."""
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of header names to values")
    out: dict[str, Secret] = {}
    problems: list[Exception] = []
    for name in sorted({str(k).removesuffix("_file") for k in value}):
        if not _HEADER_NAME.match(name):
            problems.append(Invalid(f'invalid HTTP header name "{name}"', (name,)))
            continue
        try:
            out[name] = secret(FilePair(name, value.get(name), value.get(f"{name}_file")))
        except Invalid as exc:
            problems.append(Invalid(exc.message, (exc.key or name,)))
    if problems:
        raise ExceptionGroup("headers", problems)
    return out


@dataclass(frozen=True, slots=True)
class Default:
    """A value an entry takes from ``global`` (``at``) because it gives none itself."""

    value: Secret
    at: Path


def secret_url(value: Any) -> Secret:
    """A secret that is an http(s) URL (a webhook's: its value is never shown)."""
    default = value if isinstance(value, Default) else None
    url = secret(value) if default is None else default.value
    if not _URL.match(url.get()):
        msg = "expected an http(s) URL (value not shown: it is a secret)"
        raise Invalid(msg, where=None if default is None else default.at)
    return url


Duration = Annotated[float, Hook(duration)]
DurationOrZero = Annotated[float, Hook(duration_or_zero)]
HttpUrl = Annotated[str, Hook(http_url)]
ByteSize = Annotated[int, Hook(byte_size)]
Labels = Annotated[Mapping[str, str], Hook(labels)]
SourceLabels = Annotated[Mapping[str, str], Hook(source_labels)]
Template = Annotated[str, Hook(template)]
SecretUrl = Annotated[Secret, Hook(secret_url)]
Matchers = Annotated[tuple[Matcher, ...], Hook(matchers)]
NonNegative = Annotated[int, between(minimum=0)]
