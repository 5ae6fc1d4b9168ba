"""JSON bytes as Go's ``json.NewEncoder(w).Encode(v)`` writes them.

Alertmanager's notifiers encode with Go's encoder: compact, UTF-8, ``<`` ``>`` ``&`` and
U+2028/U+2029 escaped as ``\\u003c``..., other control characters as ``\\u00XX``, and a final
newline. Encoding the same way makes the watcher's bodies byte-identical to Alertmanager's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_string(str(k))}:{_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_value(v) for v in value) + "]"
    msg = f"cannot encode {type(value).__name__} as JSON"
    raise TypeError(msg)


def encode(value: object) -> bytes:
    """``value`` (dicts in field order, lists, strings, numbers, bools, None) as Go would."""
    return (_value(value) + "\n").encode("utf-8")
