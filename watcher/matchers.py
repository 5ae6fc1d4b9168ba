"""Label matchers: ``name="value"``, ``!=``, ``=~``, ``!~`` (regexes RE2, fully anchored).

One type serves Alertmanager matchers (routes, silences, inhibition) and PromQL selector
matchers (the rule engine): both anchor regexes and read an absent label as ``""``. Regexes
are compiled by ``watcher.regex``: RE2, as in Go, anchored ``^(?:re)$``.

Syntax follows https://prometheus.io/docs/alerting/latest/configuration/#matcher: the value
may be double-quoted (with Go escapes) or bare; a list may be wrapped in ``{...}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from watcher.regex import Regex, compile_anchored

__all__ = ["Matcher", "parse_matcher", "parse_matchers"]

_OPS = ("=~", "!~", "!=", "=")
_NAME = re.compile(r"^[^{}!=~,\\\"'`\s]+$")
_MATCHER = re.compile(r"^\s*([^!=~\s]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher; an absent label matches as the empty string (Alertmanager semantics)."""

    name: str
    op: str
    value: str
    _regex: Regex | None = field(default=None, compare=False, repr=False)

    @classmethod
    def make(cls, name: str, op: str, value: str) -> Matcher:
        """Build a matcher, compiling the regex; raise ValueError on a bad regex or operator."""
        if op not in _OPS:
            msg = f'unknown matcher operator "{op}"'
            raise ValueError(msg)
        regex = compile_anchored(value) if op in ("=~", "!~") else None
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher."""
        return self.matches_value(labels.get(self.name, ""))

    def matches_value(self, actual: str) -> bool:
        """Whether one label value (``""`` for an absent label) satisfies this matcher."""
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    @property
    def is_regex(self) -> bool:
        """True for ``=~`` and ``!~``."""
        return self.op in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        """True for ``=`` and ``=~`` (Alertmanager's ``isEqual``)."""
        return self.op in ("=", "=~")

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as ``severity="info"`` or ``team=~"a|b"``."""
    m = _MATCHER.match(text)
    if m is None:
        msg = f'expected a matcher like name="value", got "{text}"'
        raise ValueError(msg)
    name, op, raw = m.groups()
    if not _NAME.match(name):
        msg = f'invalid label name "{name}" in matcher "{text}"'
        raise ValueError(msg)
    return Matcher.make(name, op, _unquote(raw.strip(), text))


def _unquote(raw: str, text: str) -> str:
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            msg = f'unterminated quoted value in matcher "{text}"'
            raise ValueError(msg)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            msg = f'invalid quoted value in matcher "{text}"'
            raise ValueError(msg) from None
        assert isinstance(value, str)
        return value
    return raw


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``{a="1", b=~"x"}`` or ``a="1",b=~"x"`` into matchers."""
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    return [parse_matcher(part) for part in _split_top(s) if part.strip()]


def _split_top(s: str) -> Iterable[str]:
    buf, quoted, escaped = "", False, False
    for ch in s:
        if escaped:
            buf += ch
            escaped = False
        elif ch == "\\" and quoted:
            buf += ch
            escaped = True
        elif ch == '"':
            buf += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            yield buf
            buf = ""
        else:
            buf += ch
    yield buf


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches ``labels``."""
    return all(m.matches(labels) for m in matchers)
