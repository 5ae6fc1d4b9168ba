"""Typed reads from a located YAML document that collect every problem instead of stopping.

Each read names its key path; a bad value adds ``file:line path: message`` to ``problems``
and returns a default, so one pass finds every mistake.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path as FsPath
from typing import Any, TypeVar

from watcher.config.model import Secret
from watcher.durations import parse_duration
from watcher.matchers import Matcher, parse_matcher, parse_matchers
from watcher.names import LABEL_NAME
from watcher.yamlpos import Located, Path, Problem

T = TypeVar("T")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MISSING = object()
#: Largest secret file read (a key, a token, a webhook URL are far smaller).
MAX_SECRET_FILE = 64 * 1024


class Reader:
    """Reads typed values out of ``doc``; collects problems; expands ``${ENV}`` in strings."""

    def __init__(self, doc: Located, env: Mapping[str, str] | None = None) -> None:
        self.doc = doc
        self.env = os.environ if env is None else env
        self.problems: list[Problem] = []
        self.base_dir = FsPath(doc.file).parent

    def problem(self, path: Path, message: str) -> None:
        """Record one problem at ``path``."""
        self.problems.append(self.doc.problem(path, message))

    def get(self, path: Path) -> Any:
        """Raw value at ``path`` (``_MISSING`` sentinel-free: None when absent)."""
        node: Any = self.doc.data
        for part in path:
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return None
                node = node[part]
            else:
                if not isinstance(node, Mapping) or part not in node:
                    return None
                node = node[part]
        return node

    def has(self, path: Path) -> bool:
        """Whether ``path`` is present (even if null)."""
        parent = self.get(path[:-1]) if path[:-1] else self.doc.data
        return isinstance(parent, Mapping) and path[-1] in parent

    def mapping(self, path: Path, allowed: Collection[str], *, required: bool = False) -> bool:
        """Check that ``path`` is a mapping with only ``allowed`` keys; True when it is usable."""
        value = self.get(path) if path else self.doc.data
        if value is None:
            if required:
                self.problem(path, "is required")
            return False
        if not isinstance(value, Mapping):
            # At the top the value is the whole file, which may be a secret pointed at by mistake.
            got = _kind(value) if path else ("a list" if isinstance(value, list) else "a scalar")
            self.problem(path, f"expected a mapping, got {got}")
            return False
        for key in value:
            if key not in allowed:
                hint = ""
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.75)
                if close:
                    hint = f' (did you mean "{close[0]}"?)'
                self.problem((*path, str(key)), f"unknown key{hint}")
        return True

    def seq(self, path: Path) -> list[Any]:
        """The list at ``path`` (empty when absent or wrong)."""
        value = self.get(path)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {_kind(value)}")
            return []
        return value

    def expand(self, path: Path, text: str) -> str:
        """Replace ``${VAR}`` with the environment's value; an unset variable is a problem."""

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self.env:
                self.problem(path, f"environment variable {name} is not set")
                return ""
            return self.env[name]

        return _ENV.sub(sub, text)

    def string(self, path: Path, default: Any = _MISSING, *, expand: bool = True) -> Any:
        """A string; ``default`` when absent (absent and no default is a problem)."""
        value = self.get(path)
        if value is None:
            if default is _MISSING:
                self.problem(path, "is required")
                return ""
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(path, f"expected a string, got {_kind(value)}")
            return "" if default is _MISSING else default
        text = str(value)
        return self.expand(path, text) if expand else text

    def choice(self, path: Path, options: Collection[str], default: Any = _MISSING) -> Any:
        """A string that must be one of ``options``."""
        value = self.string(path, default)
        if value is not default and value not in options:
            self.problem(path, f'expected one of {", ".join(options)}, got "{value}"')
        return value

    def integer(
        self,
        path: Path,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        """An integer within bounds."""
        value = self.get(path)
        if value is None:
            if default is None:
                self.problem(path, "is required")
                return 0
            return default
        if isinstance(value, str):
            value = self.expand(path, value)
            with contextlib.suppress(ValueError):
                value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer, got {_kind(value)}")
            return default or 0
        if minimum is not None and value < minimum:
            self.problem(path, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            self.problem(path, f"must be at most {maximum}, got {value}")
        return value

    def boolean(self, path: Path, default: bool) -> bool:
        """A YAML boolean."""
        value = self.get(path)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {_kind(value)}")
            return default
        return value

    def duration(self, path: Path, default: float | None = None, *, positive: bool = True) -> float:
        """A Prometheus duration in seconds."""
        value = self.get(path)
        if value is None:
            if default is None:
                self.problem(path, "is required")
                return 0.0
            return default
        text = value if isinstance(value, str) else str(value)
        try:
            seconds = parse_duration(self.expand(path, text))
        except ValueError as exc:
            self.problem(path, str(exc))
            return default or 0.0
        if positive and seconds <= 0:
            self.problem(path, "must be greater than 0")
        return seconds

    def labels(self, path: Path) -> dict[str, str]:
        """A mapping of label names to string values."""
        value = self.get(path)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a mapping of labels, got {_kind(value)}")
            return {}
        out: dict[str, str] = {}
        for key in value:
            name = str(key)
            if not LABEL_NAME.match(name) or name.startswith("__"):
                self.problem((*path, name), f'invalid label name "{name}"')
                continue
            out[name] = str(self.string((*path, name)))
        return out

    def str_list(self, path: Path, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A list of strings."""
        if self.get(path) is None:
            return default
        return tuple(str(self.string((*path, i))) for i, _ in enumerate(self.seq(path)))

    def secret(self, path: Path, key: str, *, required: bool = True) -> Secret | None:
        """``key`` inline or ``key_file`` (a file whose content, stripped, is the secret)."""
        inline, file_key = (*path, key), (*path, f"{key}_file")
        has_inline, has_file = self.get(inline) is not None, self.get(file_key) is not None
        if has_inline and has_file:
            self.problem(inline, f"give either {key} or {key}_file, not both")
            return None
        if has_file:
            name = str(self.string(file_key))
            file = FsPath(name) if FsPath(name).is_absolute() else self.base_dir / name
            try:
                with file.open("rb") as f:  # bounded: a path like /dev/zero must not hang us
                    raw = f.read(MAX_SECRET_FILE + 1)
            except OSError as exc:
                self.problem(file_key, f"cannot read secret file {name}: {exc.strerror}")
                return None
            if len(raw) > MAX_SECRET_FILE:
                self.problem(file_key, f"secret file {name} is larger than {MAX_SECRET_FILE} bytes")
                return None
            try:  # the content is never quoted: only where it went wrong
                return Secret(raw.decode("utf-8").strip())
            except UnicodeDecodeError as exc:
                self.problem(file_key, f"secret file {name} is not UTF-8 text (byte {exc.start})")
                return None
        if has_inline:
            value = self.string(inline)
            if not value:
                self.problem(inline, "is empty")
            return Secret(str(value))
        if required:
            self.problem(inline, f"is required (or {key}_file)")
        return None

    def matcher_list(self, path: Path) -> tuple[Matcher, ...]:
        """Alertmanager ``matchers:`` strings, each possibly holding several comma-separated."""
        out: list[Matcher] = []
        for i, item in enumerate(self.seq(path)):
            if not isinstance(item, str):
                self.problem((*path, i), f"expected a matcher string, got {_kind(item)}")
                continue
            try:
                out.extend(
                    parse_matchers(item) if "," in item or "{" in item else [parse_matcher(item)]
                )
            except ValueError as exc:
                self.problem((*path, i), str(exc))
        return tuple(out)

    def legacy_match(self, path: Path, *, regex: bool) -> tuple[Matcher, ...]:
        """Alertmanager's deprecated ``match:`` / ``match_re:`` mappings."""
        value = self.get(path)
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a mapping, got {_kind(value)}")
            return ()
        out: list[Matcher] = []
        for key, raw in value.items():
            try:
                out.append(Matcher.make(str(key), "=~" if regex else "=", str(raw)))
            except ValueError as exc:
                self.problem((*path, str(key)), str(exc))
        return tuple(out)

    def each(self, path: Path, read: Callable[[Path], T | None]) -> tuple[T, ...]:
        """Apply ``read`` to every item of the list at ``path``; drop items it rejects."""
        out: list[T] = []
        for i, _ in enumerate(self.seq(path)):
            item = read((*path, i))
            if item is not None:
                out.append(item)
        return tuple(out)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f'"{value}"'
