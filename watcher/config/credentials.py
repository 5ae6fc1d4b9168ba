"""Secrets in the config: ``Secret`` values, given inline or as ``*_file``, and secret headers.

A secret's ``str`` and ``repr`` never show it, and no problem quotes it: a file's problem names
the file and what went wrong, never its content. Files are read bounded and relative to the
config's folder (``CONTEXT.base_dir``), as Alertmanager reads ``*_file`` keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from watcher.config.context import CONTEXT, string
from watcher.validate import FilePair, Invalid, each, refuse
from watcher.yamlpos import Path

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


def _header(name: str, pair: FilePair) -> Secret:
    if not _HEADER_NAME.match(name):
        msg = f'invalid HTTP header name "{name}"'
        raise Invalid(msg)
    return secret(pair)


def headers(value: Any) -> dict[str, Secret]:
    """Static HTTP headers, each a secret given inline (``Name: value``) or as ``Name_file``."""
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of header names to values")
    names = sorted({str(k).removesuffix("_file") for k in value})
    pairs = {n: FilePair(n, value.get(n), value.get(f"{n}_file")) for n in names}
    secrets, problems = each(pairs, _header)
    refuse(problems, "headers")
    return dict(zip(names, secrets, strict=True))


@dataclass(frozen=True, slots=True)
class Default:
    """A value an entry takes from ``global`` (``at``) because it gives none itself."""

    value: Secret
    at: Path
