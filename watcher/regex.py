"""Regular expressions as Prometheus and Alertmanager run them: RE2 syntax, fully anchored.

Both are Go programs, so their regexes are RE2 (https://github.com/google/re2/wiki/Syntax):
linear-time matching (no catastrophic backtracking, so a silence like ``(a+)+$`` cannot stall
the daemon), no lookarounds or backreferences, and flags such as ``(?i)`` anywhere.

Anchoring: ``^(?:<re>)$``, as Alertmanager's matchers (pkg/labels/matcher.go) and the PromQL
of Prometheus 2.x, the version the conformance tests run against; ``dot_nl`` gives Prometheus
3's ``^(?s:<re>)$`` (model/labels/regexp.go, ``syntax.Perl|syntax.DotNL``).

The pattern must compile on its own first, as Prometheus checks it, so ``a)|(b`` cannot slip
through the wrapping group.
"""

from __future__ import annotations

from typing import Protocol, cast

import re2

#: Longest pattern accepted; RE2 also bounds the compiled program's memory itself.
MAX_PATTERN_LENGTH = 64 * 1024


class Regex(Protocol):
    """A compiled, anchored pattern."""

    def fullmatch(self, text: str) -> object | None:
        """A match object when all of ``text`` matches, else None."""


def _options() -> re2.Options:
    options = re2.Options()
    # RE2 would otherwise write every rejected pattern to stderr, outside structured logging.
    options.log_errors = False
    return options


_OPTIONS = _options()


def compile_re2(pattern: str) -> re2._Regexp:
    """Compile ``pattern`` as RE2 as it stands (unanchored, Go's ``regexp.Compile``).

    Every RE2 pattern of the watcher compiles here, with the shared options; raises
    ``re2.error`` for a bad pattern.
    """
    return re2.compile(pattern, _OPTIONS)


def compile_anchored(pattern: str, *, dot_nl: bool = False) -> Regex:
    """Compile ``pattern`` as RE2, anchored at both ends; ValueError with RE2's reason if bad.

    ``dot_nl`` makes ``.`` match ``\\n`` too (Prometheus 3's selectors).
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        msg = f"invalid regular expression: longer than {MAX_PATTERN_LENGTH} characters"
        raise ValueError(msg)
    try:
        compile_re2(pattern)
        wrapped = f"^(?s:{pattern})$" if dot_nl else f"^(?:{pattern})$"
        return cast(Regex, compile_re2(wrapped))
    except re2.error as exc:
        msg = f'invalid regular expression "{pattern}": {re2_reason(exc, "rejected by RE2")}'
        raise ValueError(msg) from None


def re2_reason(exc: re2.error, default: str) -> str:
    """RE2's reason for rejecting a pattern (its C++ error text), or ``default`` if none."""
    reason = exc.args[0] if exc.args else default
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
