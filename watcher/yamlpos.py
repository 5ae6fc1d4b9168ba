"""YAML loading that remembers where every key and item came from.

``watcher check`` reports ``file:line path: problem``; this module gives the line for a path.
Used for both the config file and rule files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

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


@dataclass
class Located:
    """A parsed YAML document plus the 1-based line of every path in it."""

    data: Any
    file: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int:
        """Line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)

    def where(self, path: Path) -> str:
        """``file:line path`` for messages."""
        rendered = format_path(path)
        loc = f"{self.file}:{self.line(path)}"
        return f"{loc} {rendered}" if rendered else loc


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (silent overrides hide mistakes)."""


def _record(
    node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[str], file: str
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                where = f"{file}:{key_node.start_mark.line + 1} {format_path((*path, key))}"
                problems.append(f"{where}: duplicate key")
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _record(value_node, (*path, key), lines, problems, file)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, (*path, i), lines, problems, file)


def load_located(text: str, file: str) -> tuple[Located | None, list[str]]:
    """Parse ``text``; return the document with lines, or None and the one-line syntax error."""
    problems: list[str] = []
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        problem = (exc.problem or str(exc)).strip()
        return None, [f"{file}:{line}: invalid YAML: {problem}"]
    except yaml.YAMLError as exc:
        return None, [f"{file}:1: invalid YAML: {exc}"]
    except RecursionError:
        return None, [f"{file}:1: invalid YAML: nesting too deep"]
    located = Located(data, file)
    try:
        if node is not None:
            if _expanded_size(node, {}) > _MAX_NODES:
                return None, [
                    f"{file}:1: invalid YAML: aliases expand to more than {_MAX_NODES} nodes"
                ]
            _record(node, (), located.lines, problems, file)
        _check_depth(data, 0)
    except RecursionError:
        return None, [f"{file}:1: invalid YAML: nesting too deep (a recursive alias?)"]
    return located, problems


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


def is_mapping(value: object) -> bool:
    """True for YAML mappings."""
    return isinstance(value, Mapping)
