"""Prometheus durations (``30s``, ``5m``, ``1h30m``, ``7d``), parsed and printed.

Same grammar as Prometheus's ``model.ParseDuration``: units y w d h m s ms, largest first,
each at most once; ``0`` alone is zero.
"""

from __future__ import annotations

import re

_UNITS = {
    "y": 365 * 86400.0,
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
_MAX_MS = 2**63 - 1
_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


def parse_duration(text: str) -> float:
    """Return seconds for a Prometheus duration; raise ValueError with a readable message."""
    if text == "0":
        return 0.0
    m = _RE.match(text)
    if not text or m is None or not any(m.groups()):
        msg = f'expected a duration like 30s, 5m or 1h30m, got "{text}"'
        raise ValueError(msg)
    # Integer milliseconds, like Prometheus's int64 durations; anything longer is a typo.
    total_ms = 0
    for value, unit in zip(m.groups(), _UNITS, strict=True):
        if value:
            total_ms += int(value) * round(_UNITS[unit] * 1000)
    if total_ms > _MAX_MS:
        msg = f'duration "{text}" is longer than Prometheus allows (about 292 years)'
        raise ValueError(msg)
    return total_ms / 1000


def format_duration(seconds: float) -> str:
    """Render seconds the way Prometheus prints durations (``1h30m``, ``0s``)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit in ("y", "w", "d", "h", "m", "s"):
        size = round(_UNITS[unit] * 1000)
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    if ms:
        out += f"{ms}ms"
    return out
