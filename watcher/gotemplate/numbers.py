"""Number constants in templates, typed as Go's parser types them (``parse.newNumber``)."""

from __future__ import annotations

from watcher.gotemplate import nodes as n
from watcher.gotemplate.strconv import quote

_INT64 = 2**63


def parse_int(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 0, 64)``: prefixes, leading-zero octal, underscores."""
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if "." in body or (not body.lower().startswith("0x") and ("e" in body.lower())):
        raise ValueError(text)
    if len(body) > 1 and body[0] == "0" and body[1].isdigit():
        value = int(body.replace("_", ""), 8)
    else:
        value = int(body, 0)
    value *= sign
    if not -_INT64 <= value < _INT64:
        raise ValueError(text)
    return value


def number_node(pos: int, text: str) -> n.NumberNode:
    """A number literal as int and/or float; ValueError with Go's message if it is neither."""
    node = n.NumberNode(pos, text)
    if text.endswith("i"):
        msg = f"complex constants are not supported: {text}"
        raise ValueError(msg)
    try:
        node.int_value = parse_int(text)
        node.is_int = True
    except ValueError:
        pass
    try:
        node.float_value = float(node.int_value) if node.is_int else float(text.replace("_", ""))
        node.is_float = True
    except (ValueError, OverflowError):
        if text.lower().startswith(("0x", "-0x", "+0x")) and "p" in text.lower():
            node.float_value = float.fromhex(text.replace("_", ""))
            node.is_float = True
    if not node.is_int and not node.is_float:
        msg = f"illegal number syntax: {quote(text)}"
        raise ValueError(msg)
    return node
