"""Numbers and instants as people read them: durations, relative times, dates, money."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float) -> str:
    """``2d 3h``, ``5m 10s``, ``42s``: the two largest units (sign kept)."""
    if math.isnan(seconds) or math.isinf(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else ""
    left = round(abs(seconds))
    if left == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
        if len(parts) == 2:
            break
    return sign + " ".join(parts)


def relative(ts: float | None, now: float) -> str:
    """``in 2d 3h``, ``5m ago`` or ``never``."""
    if ts is None:
        return "never"
    delta = ts - now
    if abs(delta) < 1:
        return "now"
    if delta > 0:
        return f"in {duration(delta)}"
    return f"{duration(-delta)} ago"


def absolute(ts: float | None) -> str:
    """``2026-12-01 21:40 UTC``; the page shows every instant in UTC."""
    if ts is None or math.isnan(ts) or math.isinf(ts):
        return ""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return ""


def iso(ts: float | None) -> str:
    """RFC 3339 for ``<time datetime=...>`` (empty when the instant is unusable)."""
    if ts is None or math.isnan(ts) or math.isinf(ts):
        return ""
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return ""


def amount(value: float) -> str:
    """A money amount with thousands separators and at least two decimals: ``18,230.00``."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    try:
        d = Decimal(repr(value))
    except InvalidOperation:
        return str(value)
    exponent = d.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{min(places, 8)}f}"


def number(value: float) -> str:
    """A plain number: integers without decimals, others with up to four significant places."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
