"""Upstream text made safe for a message: secrets redacted, one printable line, bounded.

An upstream (or a gateway in front of it) may quote our request back in an error answer,
``Authorization: Bearer ...`` or the ``api_key`` header included. Every piece of upstream text
that goes into a ``SourceError`` (and so into logs, ``last_error`` and the status page) passes
through ``Redactor.clean`` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "<redacted>"
# Shorter values would blank out ordinary words; real keys and tokens are far longer.
MIN_SECRET_LENGTH = 4
# Credentials in the shapes HTTP uses, whoever's they are (RFC 6750 bearer tokens, basic auth).
_SCHEMES = r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]+|Basic\s+[A-Za-z0-9+/]{8,}={0,2}"
_NOT_PRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MAX_MESSAGE = 500


class Redactor:
    """Removes the given secret values, and any bearer or basic credential, from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        parts = [re.escape(v) for v in values] + [_SCHEMES]
        self._pattern = re.compile("|".join(parts))

    def clean(self, text: str, extra: Iterable[str] = ()) -> str:
        """``text`` without secrets (the configured ones and ``extra``), on one bounded line."""
        out = self._pattern.sub(REDACTED, text)
        for value in extra:
            if len(value) >= MIN_SECRET_LENGTH:
                out = out.replace(value, REDACTED)
        out = " ".join(_NOT_PRINTABLE.sub(" ", out).split())
        return out if len(out) <= MAX_MESSAGE else out[: MAX_MESSAGE - 3] + "..."
