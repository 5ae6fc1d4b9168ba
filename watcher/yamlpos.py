"""YAML loading that remembers where every key and item came from.

``watcher check`` reports ``file:line path: problem``; this module gives the line for a path.
Used for both the config file and rule files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

import yaml

from watcher import yamlstream
from watcher.errors import ConfigError

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """Render ``("sources", 1, "interval")`` as ``sources[1].interval``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class Problem(str):
    """``file:line path: message``, one problem of a file, its parts kept for sorting.

    A ``str`` (what ``ConfigError`` lists and ``watcher check`` prints) that still knows its
    file, line, key path and message.
    """

    file: str
    line: int
    path: Path
    message: str

    def __new__(cls, file: str, line: int, path: Path, message: str) -> Problem:
        """The problem ``message`` at ``path``, found on ``line`` of ``file``."""
        rendered = format_path(path)
        where = f"{file}:{line} {rendered}" if rendered else f"{file}:{line}"
        self = super().__new__(cls, f"{where}: {message}")
        self.file, self.line, self.path, self.message = file, line, path, message
        return self


def by_line(problems: list[Problem]) -> list[Problem]:
    """``problems`` in the order of their lines (stable: same-line problems keep theirs)."""
    return sorted(problems, key=lambda p: p.line)


class Located:
    """A parsed YAML document plus the 1-based line of every path in it.

    The lines are found only when a message needs one: the document is parsed once on the
    success path, and composed again (libyaml, then a walk of the nodes) on the first ``line``.
    """

    def __init__(self, data: Any, file: str, text: str = "") -> None:
        self.data = data
        self.file = file
        self._text = text
        self._lines: dict[Path, int] | None = None if text else {}

    @property
    def lines(self) -> dict[Path, int]:
        """The line of every key and item, by path."""
        if self._lines is None:
            self._lines = {}
            node = _compose(self._text)
            if node is not None:
                _record(node, (), self._lines, [], self.file)
        return self._lines

    def line(self, path: Path) -> int:
        """Line of ``path``, or of its nearest ancestor that has one."""
        lines = self.lines
        p = tuple(path)
        while p:
            if p in lines:
                return lines[p]
            p = p[:-1]
        return lines.get((), 1)

    def problem(self, path: Path, message: str) -> Problem:
        """The problem ``message`` at ``path``, with its line."""
        return Problem(self.file, self.line(path), path, message)

    def where(self, path: Path) -> str:
        """``file:line path`` for messages."""
        rendered = format_path(path)
        loc = f"{self.file}:{self.line(path)}"
        return f"{loc} {rendered}" if rendered else loc


# libyaml's parser (10-20x the pure-Python one) where PyYAML was built with it. Both compose the
# same nodes with the same marks; only syntax error texts differ, so errors are re-parsed with the
# pure-Python loader to keep one wording.
_FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: Shorter texts cannot nest deep enough to overflow libyaml's recursive composer (it recurses in
#: C, past Python's recursion limit: ~30k levels crash the process).
_SAFE_TO_COMPOSE = 16_384


class _Loader(_FastLoader):  # type: ignore[valid-type,misc]
    """Safe loader that notices duplicate mapping keys (silent overrides hide mistakes)."""

    duplicates = False

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping, flagging a key given twice (``_record`` then says where)."""
        if isinstance(node, yaml.MappingNode) and not self.duplicates:
            keys = [str(k.value) for k, _ in node.value]
            self.duplicates = len(set(keys)) != len(keys)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


def _shape(text: str) -> tuple[bool, bool]:
    """(nests deeper than ``_MAX_DEPTH``, may hold aliases), learnt before composing big texts.

    libyaml's event parser keeps its own stack (no recursion), so it measures nesting safely;
    it stops at the limit, as it slows down quadratically with depth. A text without aliases
    needs no alias-bomb walk.
    """
    if len(text) <= _SAFE_TO_COMPOSE:
        return False, True
    depth, aliases = 0, False
    try:
        for event in yaml.parse(text, Loader=_FastLoader):
            kind = type(event)
            if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                depth += 1
                if depth > _MAX_DEPTH:
                    return True, aliases
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                depth -= 1
            elif kind is yaml.AliasEvent:
                aliases = True
    except yaml.YAMLError:
        return False, True  # composing stops at the same place and reports it
    return False, aliases


def _compose(text: str) -> yaml.Node | None:
    loader = _FastLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _record(
    node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[Problem], file: str
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(file, key_node.start_mark.line + 1, (*path, key), "duplicate key")
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record(value_node, (*path, key), lines, problems, file)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, (*path, i), lines, problems, file)


def _syntax_error(text: str, file: str, exc: yaml.YAMLError) -> Problem:
    # The pure-Python parser words the error the way every message so far has.
    if _FastLoader is not yaml.SafeLoader:
        try:
            yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as slow:
            exc = slow
        except RecursionError:
            return _invalid(file, "nesting too deep")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        return _invalid(file, (exc.problem or str(exc)).strip(), line)
    return _invalid(file, str(exc))


def _invalid(file: str, problem: str, line: int = 1) -> Problem:
    return Problem(file, line, (), f"invalid YAML: {problem}")


def load_located(text: str, file: str) -> tuple[Located | None, list[Problem]]:
    """Parse ``text`` once; return the document, or None and the one-line syntax error."""
    loader = _FastLoader(text)
    try:
        data, duplicates = yamlstream.build(loader, _MAX_DEPTH, _MAX_NODES)
    except yamlstream.Unusual:
        return _load_composed(text, file)
    except yamlstream.Refused as exc:
        return None, [_invalid(file, str(exc))]
    except yaml.YAMLError as exc:
        return None, [_syntax_error(text, file, exc)]
    finally:
        loader.dispose()
    problems: list[Problem] = []
    if duplicates:  # composing again is safe: the text nests at most _MAX_DEPTH deep
        node = _compose(text)
        if node is not None:
            _record(node, (), {}, problems, file)
    return Located(data, file, text), problems


def read_text(file: FsPath, what: str) -> str:
    """The text of ``file`` (``what``: "config file"); ConfigError when unreadable or not UTF-8."""
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{file}: cannot read {what}: {exc.strerror}"
        raise ConfigError([msg]) from None
    except UnicodeDecodeError as exc:
        msg = f"{file}: the {what} is not UTF-8 text (byte {exc.start})"
        raise ConfigError([msg]) from None


def load_mapping(text: str, file: str) -> tuple[Located, list[Problem]]:
    """``load_located`` for a file whose top level is a mapping (empty: ``{}``); else ConfigError.

    The problem of another top level names its shape, never its text: the file may be a secret
    (a token file named by mistake).
    """
    doc, problems = load_located(text, file)
    if doc is None:
        raise ConfigError(problems)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, Mapping):
        got = "a list" if isinstance(doc.data, list) else "a scalar"
        raise ConfigError([*problems, doc.problem((), f"expected a mapping, got {got}")])
    return doc, problems


def _load_composed(text: str, file: str) -> tuple[Located | None, list[Problem]]:
    """``load_located`` through a node tree: all of YAML (merge keys, tags, complex keys)."""
    problems: list[Problem] = []
    too_deep, aliases = _shape(text)
    if too_deep:
        return None, [_invalid(file, "nesting too deep")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if aliases and node is not None and _expanded_size(node, {}) > _MAX_NODES:
            return None, [_invalid(file, f"aliases expand to more than {_MAX_NODES} nodes")]
        data = None if node is None else loader.construct_document(node)
        if node is not None and loader.duplicates:
            _record(node, (), {}, problems, file)
        _check_depth(data, 0)
    except yaml.YAMLError as exc:
        return None, [_syntax_error(text, file, exc)]
    except RecursionError:
        return None, [_invalid(file, "nesting too deep (a recursive alias?)")]
    finally:
        loader.dispose()
    return Located(data, file, text), problems


_MAX_DEPTH = 64
#: Far beyond any config or rule file; refuses "billion laughs" alias bombs before walking them.
_MAX_NODES = 200_000


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes the document has once aliases are expanded, without expanding them."""
    size = memo.get(id(node))
    if size is None:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        size = 1 + sum(_expanded_size(child, memo) for child in children)
        memo[id(node)] = size
    return size


def _check_depth(value: object, depth: int) -> None:
    """Refuse documents nested deeper than any config needs (recursive aliases included)."""
    if depth > _MAX_DEPTH:
        raise RecursionError
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)
