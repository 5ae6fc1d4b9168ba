"""Go's ``strconv``: ``Quote``/``Unquote`` and ``FormatFloat`` with the shortest digits.

``Quote`` is how Go prints a string with ``%q`` and in ``LabelSet.String()``. Alertmanager's
group keys and ``printf "%q"`` must read byte for byte as Go writes them
(https://pkg.go.dev/strconv#Quote): printable runes stay, the rest become ``\\a \\b \\f \\n
\\r \\t \\v``, ``\\xNN`` (below U+0020 and U+007F), ``\\uNNNN`` or ``\\UNNNNNNNN``.
``FormatFloat(v, fmt, -1, 64)`` (https://pkg.go.dev/strconv#FormatFloat) is every float Go
prints here: ``%v`` in templates (``g``), the query API's values (``f``), the alerts API's (``e``)
and promtool's (``E``).
"""

from __future__ import annotations

import math

_SHORT = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _rune(ch: str) -> str:
    short = _SHORT.get(ch)
    if short is not None:
        return short
    if ch.isprintable():  # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols, ' '
        return ch
    code = ord(ch)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate is not valid UTF-8: Go writes U+FFFD
        return "\\ufffd"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(text: str) -> str:
    """Return ``text`` double-quoted with Go's escapes."""
    return '"' + "".join(_rune(ch) for ch in text) + '"'


_UNESCAPE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_HEX_LEN = {"x": 2, "u": 4, "U": 8}


def _escape(body: str, i: int, mark: str) -> tuple[str, int]:
    """Decode the escape at ``body[i]`` (after the backslash); return it and the next index."""
    c = body[i : i + 1]
    if c in _UNESCAPE:
        return _UNESCAPE[c], i + 1
    if c == mark:
        return c, i + 1
    if c in _HEX_LEN:
        digits = body[i + 1 : i + 1 + _HEX_LEN[c]]
        if len(digits) != _HEX_LEN[c] or not all(d in "0123456789abcdefABCDEF" for d in digits):
            msg = "invalid syntax"
            raise ValueError(msg)
        code = int(digits, 16)
        if c == "x":
            return chr(code), i + 3  # a byte; templates only ever hold text
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            msg = "invalid syntax"
            raise ValueError(msg)
        return chr(code), i + 1 + len(digits)
    if c in "01234567":
        digits = body[i : i + 3]
        if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
            msg = "invalid syntax"
            raise ValueError(msg)
        return chr(int(digits, 8)), i + 3
    msg = "invalid syntax"
    raise ValueError(msg)


def unquote(text: str) -> str:
    """Go's ``strconv.Unquote`` for ``"..."``, raw backquoted and ``'x'`` literals."""
    if len(text) < 2 or text[0] != text[-1] or text[0] not in "\"'`":
        msg = "invalid syntax"
        raise ValueError(msg)
    mark, body = text[0], text[1:-1]
    if mark == "`":
        if "`" in body:
            msg = "invalid syntax"
            raise ValueError(msg)
        return body.replace("\r", "")
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            decoded, i = _escape(body, i + 1, mark)
            out.append(decoded)
            continue
        if ch in (mark, "\n"):
            msg = "invalid syntax"
            raise ValueError(msg)
        out.append(ch)
        i += 1
    result = "".join(out)
    if mark == "'" and len(result) != 1:
        msg = "invalid syntax"
        raise ValueError(msg)
    return result


def shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(value) and the decimal exponent of the first digit."""
    mant, _, e = repr(abs(value)).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    point = len(whole) + (int(e) if e else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", point - 1


def format_float(value: float, fmt: str) -> str:
    """Go's ``strconv.FormatFloat(value, fmt, -1, 64)`` for ``fmt`` e, E, f, g or G.

    The shortest digits that read back as ``value``; ``g`` takes the exponent form below 1e-4
    and from 1e6 on (Go's precision 6 for the shortest form); ``NaN``, ``+Inf``, ``-Inf``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    digits, exp = shortest_digits(value) if value else ("0", 0)
    if fmt in "eE" or (fmt in "gG" and (exp < -4 or exp >= 6)):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        letter = "E" if fmt in "EG" else "e"
        return f"{sign}{mant}{letter}{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return f"{sign}{digits}{'0' * (exp + 1 - len(digits))}"
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"
