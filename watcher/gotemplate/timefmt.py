"""Go's ``time.Time.Format`` layouts (reference time ``Mon Jan 2 15:04:05 MST 2006``), in UTC."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol


class Time(Protocol):
    """What formatting reads of ``watcher.gotemplate.values.Time``."""

    nanos: int

    def datetime(self) -> datetime:
        """As an aware datetime in the time's zone."""
        ...

    def zone_name(self) -> str:
        """The zone's abbreviation (``UTC``, ``CET``)."""
        ...


_TOKENS = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|Z07:00|Z0700|Z07|-07:00|-0700|-07|"
    r"[.,](?:0+|9+)(?!\d)|01|02|_2|15|03|04|05|06|PM|pm|1|2|3|4|5"
)


def format_time(t: Time, layout: str) -> str:
    """Render ``t`` with a Go layout string."""
    dt = t.datetime()
    frac = t.nanos % 1_000_000_000

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        fixed = {
            "January": f"{dt:%B}",
            "Jan": f"{dt:%b}",
            "Monday": f"{dt:%A}",
            "Mon": f"{dt:%a}",
            "MST": t.zone_name(),
            "2006": f"{dt.year:04d}",
            "06": f"{dt.year % 100:02d}",
            "01": f"{dt.month:02d}",
            "1": str(dt.month),
            "02": f"{dt.day:02d}",
            "_2": f"{dt.day:2d}",
            "2": str(dt.day),
            "15": f"{dt.hour:02d}",
            "03": f"{(dt.hour % 12) or 12:02d}",
            "3": str((dt.hour % 12) or 12),
            "04": f"{dt.minute:02d}",
            "4": str(dt.minute),
            "05": f"{dt.second:02d}",
            "5": str(dt.second),
            "PM": "PM" if dt.hour >= 12 else "AM",
            "pm": "pm" if dt.hour >= 12 else "am",
        }
        if tok in fixed:
            return fixed[tok]
        if tok[0] in ".,":
            return _fraction(frac, tok)
        offset = f"{dt:%z}" or "+0000"
        if tok.startswith("Z") and offset == "+0000":
            return "Z"
        width = {"Z07:00": 6, "-07:00": 6, "Z0700": 5, "-0700": 5}.get(tok, 3)
        return offset[:3] + (":" if width == 6 else "") + offset[3:5] if width > 3 else offset[:3]

    return _TOKENS.sub(sub, layout)


def _fraction(frac: int, tok: str) -> str:
    """Render ``.000``/``,000`` (fixed digits) or ``.999``/``,999`` (trailing zeros trimmed).

    Go's ``appendNano`` in src/time/format.go: the separator is the layout's own (``.`` or
    ``,``), at most nine digits are printed however many the layout repeats, and the nines
    form prints nothing at all, separator included, for a zero fraction.
    """
    sep, digits = tok[0], f"{frac:09d}"[: len(tok) - 1]
    if tok[1] == "9":
        digits = digits.rstrip("0")
        return sep + digits if digits else ""
    return sep + digits
