"""Go's rules for values meeting parameters: truth, constants, assignability.

``text/template`` converts a constant by the parameter's type (``evalArg``), checks a computed
value is assignable (``validateType``) and gives an untyped constant its type from its syntax
(``idealConstant``). The executor turns a ``TypeCheckError`` into Go's positioned message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.gotemplate import nodes as n
from watcher.gotemplate.values import GoMap, GoStruct, Time, go_type


class TypeCheckError(Exception):
    """A value or constant that does not fit; the message is Go's, without position."""


class _Missing:
    """Go's ``missingVal``: no previous pipeline value."""


MISSING = _Missing()


def is_true(value: object) -> bool:
    """Go's truth: not the zero value of its type; structs are always true."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | Mapping | Sequence):
        return len(value) > 0
    return True


def ideal(node: n.NumberNode) -> object:
    """An untyped number constant: float when written like one, else int."""
    text = node.text.lstrip("+-")
    hex_int = text[:2].lower() == "0x" and "p" not in text.lower()
    looks_float = any(c in text for c in ".eEpP") and not text.startswith("'")
    if node.is_float and not hex_int and looks_float:
        return node.float_value
    if node.is_int:
        return node.int_value
    msg = f"{node.text} overflows int"
    raise TypeCheckError(msg)


def constant(node: n.Node, typ: str) -> object:
    """A constant argument (bool, number, string) for a parameter of type ``typ``."""
    if typ == "any":
        if isinstance(node, n.BoolNode):
            return node.value
        if isinstance(node, n.NumberNode):
            return ideal(node)
        if isinstance(node, n.StringNode):
            return node.text
    checks: dict[str, tuple[type[n.Node], str]] = {
        "bool": (n.BoolNode, "bool"),
        "string": (n.StringNode, "string"),
        "float64": (n.NumberNode, "float"),
        "int": (n.NumberNode, "integer"),
    }
    if typ in checks:
        cls, what = checks[typ]
        if isinstance(node, n.NumberNode):
            if typ == "float64" and node.is_float:
                return node.float_value
            if typ == "int" and node.is_int:
                return node.int_value
        elif isinstance(node, cls):
            return node.value if isinstance(node, n.BoolNode) else getattr(node, "text", "")
        msg = f"expected {what}; found {node}"
        raise TypeCheckError(msg)
    msg = f"can't handle {node} for arg of type {typ}"
    raise TypeCheckError(msg)


def validate(value: object, typ: str) -> object:
    """``validateType``: ``value`` must be assignable to ``typ``."""
    if value is MISSING:
        value = None
    if typ == "any":
        return value
    if value is None:
        if typ == "[]string" or typ.startswith("map"):
            return value
        msg = f"invalid value; expected {typ}"
        raise TypeCheckError(msg)
    ok = {
        "string": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float64": isinstance(value, float),
        "bool": isinstance(value, bool),
        "time.Time": isinstance(value, Time),
        "[]string": isinstance(value, list) and go_type(value) == "[]string",
    }.get(typ, True)
    if not ok:
        msg = f"wrong type for value; expected {typ}; got {go_type(value)}"
        raise TypeCheckError(msg)
    return value


def lookup(receiver: object, name: str, *, has_args: bool) -> object:
    """A struct field or map entry (``evalField`` once no method matched); missingkey=zero."""
    if isinstance(receiver, GoStruct):
        for field_name, value in receiver.go_fields():
            if field_name == name:
                if has_args:
                    msg = f"{name} has arguments but cannot be invoked as function"
                    raise TypeCheckError(msg)
                return value
    elif isinstance(receiver, Mapping):
        if has_args:
            msg = f"{name} is not a method but has arguments"
            raise TypeCheckError(msg)
        if name in receiver:
            return receiver[name]
        return receiver.zero if isinstance(receiver, GoMap) else ""
    msg = f"can't evaluate field {name} in type {go_type(receiver)}"
    raise TypeCheckError(msg)
