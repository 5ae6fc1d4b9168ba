"""Build plain data straight from libyaml's events, without a node tree.

``yaml.safe_load`` composes every node (with two marks each) before constructing anything, so
a 10k-account config briefly holds ~30 MB of nodes; memory freed after a peak mostly stays with
the process. Building from events holds only the data. Nesting depth, alias expansion and
duplicate keys are checked in the same pass. Anything outside the plain subset configs are
written in (merge keys, explicit tags, complex keys, several documents, undefined aliases)
raises ``Unusual`` and the caller takes the composing path, which handles all of YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

STR = "tag:yaml.org,2002:str"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"


class Unusual(Exception):  # noqa: N818 - a signal to take the other path, not an error
    """The text uses YAML this builder leaves to the composing loader."""


class Refused(Exception):  # noqa: N818 - carries the one-line reason
    """The text is refused (too deep, an alias bomb, a recursive alias)."""


@dataclass(slots=True)
class _Frame:
    container: Any
    anchor: str | None
    nodes_before: int
    depth_below: int = 0
    key: Any = None
    has_key: bool = False
    raw_keys: set[str] = field(default_factory=set)


def build(loader: yaml.SafeLoader, max_depth: int, max_nodes: int) -> tuple[Any, bool]:
    """(data, whether a mapping repeated a key) from ``loader``'s single document."""
    anchors: dict[str, tuple[Any, int, int]] = {}  # anchor -> (value, nodes, depth)
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    nodes = 0
    duplicates = False
    result: Any = None
    # Untyped in types-PyYAML; bound once, as this loop runs per event.
    get_event: Any = loader.get_event
    check_event: Any = loader.check_event
    resolve: Any = loader.resolve
    get_event()  # StreamStart
    if check_event(yaml.StreamEndEvent):
        get_event()
        return None, False
    get_event()  # DocumentStart

    def place(value: Any, raw_key: str | None, depth: int) -> None:
        nonlocal result, duplicates
        if not stack:
            result = value
            return
        top = stack[-1]
        top.depth_below = max(top.depth_below, depth)
        if isinstance(top.container, list):
            top.container.append(value)
        elif not top.has_key:
            if raw_key is None:
                raise Unusual  # a key that is a collection or an alias
            if raw_key in top.raw_keys:
                duplicates = True
            top.raw_keys.add(raw_key)
            top.key, top.has_key = value, True
        else:
            top.container[top.key] = value
            top.has_key = False

    while not check_event(yaml.DocumentEndEvent):
        event = get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            nodes += 1
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == STR:
                value: Any = event.value
            else:
                construct = loader.yaml_constructors.get(tag)
                if construct is None or tag == "tag:yaml.org,2002:merge":
                    raise Unusual
                node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
                try:
                    value = construct(loader, node)
                except (ValueError, TypeError) as exc:  # e.g. a date like 2024-13-45
                    problem = f"cannot read {event.value!r}: {exc}"
                    raise yaml.constructor.ConstructorError(
                        None, None, problem, event.start_mark
                    ) from None
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1, 0)
            place(value, event.value if event.tag is None else None, 0)
        elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
            nodes += 1
            node_kind = yaml.SequenceNode if kind is yaml.SequenceStartEvent else yaml.MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(node_kind, None, event.implicit)
            if tag != (SEQ if node_kind is yaml.SequenceNode else MAP):
                raise Unusual
            if len(stack) >= max_depth:
                msg = "nesting too deep"
                raise Refused(msg)
            if event.anchor is not None:
                open_anchors.add(event.anchor)
            container: Any = [] if node_kind is yaml.SequenceNode else {}
            stack.append(_Frame(container, event.anchor, nodes - 1))
        elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
            frame = stack.pop()
            depth = frame.depth_below + 1
            if frame.anchor is not None:
                open_anchors.discard(frame.anchor)
                anchors[frame.anchor] = (frame.container, nodes - frame.nodes_before, depth)
            place(frame.container, None, depth)
        elif kind is yaml.AliasEvent:
            if event.anchor in open_anchors:
                msg = "nesting too deep (a recursive alias?)"
                raise Refused(msg)
            if event.anchor not in anchors:
                raise Unusual  # the composing loader words "found undefined alias"
            value, size, depth = anchors[event.anchor]
            nodes += size
            if len(stack) + depth > max_depth:
                msg = "nesting too deep (a recursive alias?)"
                raise Refused(msg)
            place(value, None, depth)
        else:
            raise Unusual
        if nodes > max_nodes:
            msg = f"aliases expand to more than {max_nodes} nodes"
            raise Refused(msg)
    get_event()  # DocumentEnd
    if not check_event(yaml.StreamEndEvent):
        raise Unusual  # several documents: the composing loader words the error
    return result, duplicates
