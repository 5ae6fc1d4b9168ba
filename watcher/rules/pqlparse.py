"""PromQL text to ``promql_parser``'s AST, with Prometheus 2.42's reading of the text.

The parser library is Prometheus 3's grammar in Rust; four differences are worked around
before it sees the text:

- it unescapes a backtick string like a double-quoted one (in PromQL `\\d` is a backslash and
  a d): each raw string is re-quoted;
- it checks a regex with Rust's syntax, which refuses RE2's ``\\Q...\\E``: each regex after
  ``=~`` / ``!~`` is hidden in a placeholder that ``regex_value`` decodes (``watcher.regex``
  then compiles it as RE2);
- ``holt_winters`` is its ``double_exponential_smoothing`` (the Prometheus 3 name, which 2.42
  does not know);
- it keeps an ``@`` timestamp as an unsigned system time (a negative one reads back as 0, an
  attribute read can even panic): each ``@ <number>`` becomes ``@ <n>``, the n-th entry of
  ``Parsed.at_ms``, read as Prometheus's parser reads it (promql/parser/parse.go
  ``setTimestamp``: ``ParseInt(text, 0, 64)`` else ``ParseFloat``, then milliseconds rounded).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import promql_parser as pp

from watcher.gotemplate.fmt import sprintf

_REGEX_MARK = "__watcher_re2_"
# Prometheus 2.42's holt_winters is the parser library's double_exponential_smoothing
_HOLT_WINTERS = re.compile(r"\bholt_winters\b")
_NEW_NAME = re.compile(r"\bdouble_exponential_smoothing\b")
_AT_NUMBER = re.compile(
    r"@(\s*)([+-]?)\s*(0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])"
    r"(?![\w.])"
)
_INT64 = float(1 << 63)


@dataclass
class Parsed:
    """The AST and the ``@`` timestamps it refers to by number (1-based)."""

    tree: pp.Expr
    at_ms: list[int] = field(default_factory=list)


def parse(text: str) -> pp.Expr:
    """``promql_parser.parse`` of ``text`` read as Prometheus reads it; ValueError if invalid."""
    return parse_expr(text).tree


def parse_expr(text: str) -> Parsed:
    """Like ``parse``, keeping the ``@`` timestamps (see the module docstring)."""
    at_ms: list[int] = []
    tree = pp.parse(_prepare(text, at_ms))
    return Parsed(tree, at_ms)


def regex_value(value: str) -> str:
    """The regex a matcher value placeholder of ``parse`` stands for (other values unchanged)."""
    if value.startswith(_REGEX_MARK) and value.endswith("__"):
        return bytes.fromhex(value[len(_REGEX_MARK) : -2]).decode("utf-8")
    return value


def go_parse_number(text: str) -> float:
    """A PromQL number literal as Go reads it: ``ParseInt(text, 0, 64)``, else ``ParseFloat``."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    lowered = body.lower()
    if lowered in ("inf", "nan"):
        return sign * float(lowered)
    if lowered.startswith("0x"):
        return sign * float(int(body[2:], 16))
    if body.isdigit():
        base = 8 if len(body) > 1 and body[0] == "0" else 10
        try:
            n = int(body, base)
        except ValueError:
            n = -1  # e.g. 08: not octal, so Go falls back to ParseFloat
        if 0 <= n < _INT64:
            return sign * float(n)
    return sign * float(body)


def at_timestamp_ms(value: float) -> int:
    """An ``@`` timestamp in ms (``timestamp.FromFloatSeconds``); ValueError when out of range."""
    if math.isnan(value) or math.isinf(value) or not -_INT64 < value < _INT64:
        msg = f"timestamp out of bounds for @ modifier: {sprintf('%f', [value])}"
        raise ValueError(msg)
    scaled = value * 1000
    # Go's math.Round (half away from zero), then int64(): out of range is MinInt64 on amd64
    ms = int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))
    return ms if -_INT64 <= ms < _INT64 else -(1 << 63)


def _string_end(text: str, i: int) -> int:
    """Index just past the string literal starting at ``text[i]``."""
    quote, j, n = text[i], i + 1, len(text)
    while j < n and text[j] != quote:
        j += 2 if text[j] == "\\" and quote != "`" else 1
    return j + 1


def _code(chunk: str, at_ms: list[int]) -> str:
    if _NEW_NAME.search(chunk):
        msg = "unknown function with name 'double_exponential_smoothing'"
        raise ValueError(msg)
    chunk = _HOLT_WINTERS.sub("double_exponential_smoothing", chunk)
    if "@" not in chunk:
        return chunk

    def number(m: re.Match[str]) -> str:
        at_ms.append(at_timestamp_ms(go_parse_number(m.group(2) + m.group(3))))
        return f"@{m.group(1)}{len(at_ms)}"

    return _AT_NUMBER.sub(number, chunk)


def _prepare(text: str, at_ms: list[int]) -> str:
    if not any(c in text for c in "`~_@"):
        return text
    out: list[str] = []
    code: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":  # a comment runs to the end of the line
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(_code("".join(code), at_ms) + text[i:j])
            code = []
            i = j
            continue
        if c not in "\"'`":
            code.append(c)
            i += 1
            continue
        out.append(_code("".join(code), at_ms))
        code = []
        j = _string_end(text, i)
        literal = text[i:j]
        if j > n:  # unterminated: the parser reports it
            out.append(literal)
            break
        if c == "`":
            value = literal[1:-1]
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            literal = f'"{escaped}"'
        if "".join(out).rstrip().endswith(("=~", "!~")):
            value = value if c == "`" else str(pp.parse(literal).val)  # type: ignore[attr-defined]
            literal = f'"{_REGEX_MARK}{value.encode("utf-8").hex()}__"'
        out.append(literal)
        i = j
    out.append(_code("".join(code), at_ms))
    return "".join(out)
