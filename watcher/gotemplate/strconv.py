"""Go's ``strconv.Quote``: how Go prints a string with ``%q`` and in ``LabelSet.String()``.

Alertmanager's group keys and ``printf "%q"`` must read byte for byte as Go writes them
(https://pkg.go.dev/strconv#Quote): printable runes stay, the rest become ``\\a \\b \\f \\n
\\r \\t \\v``, ``\\xNN`` (below U+0020 and U+007F), ``\\uNNNN`` or ``\\UNNNNNNNN``.
"""

from __future__ import annotations

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
