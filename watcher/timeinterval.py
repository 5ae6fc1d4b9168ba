"""Alertmanager's time intervals (``timeinterval/timeinterval.go``): when a route may notify.

A named interval is a list of ``time_intervals`` entries; it contains an instant when any entry
does. An entry contains an instant when every field it sets does: ``times`` (``HH:MM`` to
``HH:MM``, end exclusive, up to ``24:00``), ``weekdays`` (``monday:friday``), ``days_of_month``
(``1:5``, ``-3:-1`` counted from the month's end), ``months`` (``january:march`` or ``1:3``),
``years``, all ranges inclusive, evaluated in ``location`` (default UTC).
https://prometheus.io/docs/alerting/latest/configuration/#time_interval
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_TIME = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}  # monday=0 here
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MAX_RANGES = 100  # per field; an interval is a few lines a person wrote


@dataclass(frozen=True, slots=True)
class Span:
    """An inclusive range of integers (minutes of day use ``end`` exclusive)."""

    begin: int
    end: int


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One ``time_intervals`` entry."""

    times: tuple[Span, ...] = ()
    weekdays: tuple[Span, ...] = ()  # Go's numbering: sunday=0
    days_of_month: tuple[Span, ...] = ()
    months: tuple[Span, ...] = ()
    years: tuple[Span, ...] = ()
    location: tzinfo = UTC

    def contains(self, t: float) -> bool:
        """Whether the instant ``t`` (Unix seconds) lies in this entry."""
        dt = datetime.fromtimestamp(t, self.location)
        if self.times:
            minute = dt.hour * 60 + dt.minute
            if not any(s.begin <= minute < s.end for s in self.times):
                return False
        if self.days_of_month and not any(_day_in(s, dt) for s in self.days_of_month):
            return False
        if self.months and not any(s.begin <= dt.month <= s.end for s in self.months):
            return False
        weekday = (dt.weekday() + 1) % 7
        if self.weekdays and not any(s.begin <= weekday <= s.end for s in self.weekdays):
            return False
        return not self.years or any(s.begin <= dt.year <= s.end for s in self.years)


def _day_in(span: Span, dt: datetime) -> bool:
    days = calendar.monthrange(dt.year, dt.month)[1]
    begin = days + span.begin + 1 if span.begin < 0 else span.begin
    end = days + span.end + 1 if span.end < 0 else span.end
    if begin > days:
        return False
    begin, end = max(-days, min(begin, days)), max(-days, min(end, days))
    return begin <= dt.day <= end


def in_any(intervals: Sequence[TimeInterval], t: float) -> bool:
    """Whether ``t`` lies in any entry of a named interval."""
    return any(i.contains(t) for i in intervals)


# -- parsing (messages as Alertmanager's) ------------------------------------------------------


def _minutes(text: str) -> int:
    if not _TIME.match(text):
        msg = f"couldn't parse timestamp {text}, invalid format"
        raise ValueError(msg)
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _times(raw: object) -> tuple[Span, ...]:
    out = []
    for item in _list(raw, "times"):
        if not isinstance(item, Mapping) or set(item) - {"start_time", "end_time"}:
            msg = "times: expected start_time and end_time"
            raise ValueError(msg)
        start, end = _minutes(str(item.get("start_time"))), _minutes(str(item.get("end_time")))
        if start >= end:
            msg = "start time cannot be equal or greater than end time"
            raise ValueError(msg)
        out.append(Span(start, end))
    return tuple(out)


def _list(raw: object, what: str) -> list[object]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > _MAX_RANGES:
        msg = f"{what}: expected a list of at most {_MAX_RANGES} entries"
        raise ValueError(msg)
    return raw


def _ranges(raw: object, what: str, parse: type[int] | dict[str, int]) -> tuple[Span, ...]:
    out = []
    for item in _list(raw, what):
        text = str(item).strip().lower()
        first, _, last = text.partition(":")
        ends = []
        for part in (first, last or first):
            if isinstance(parse, dict):
                if part in parse:
                    ends.append(parse[part])
                    continue
                if what == "weekdays" or not part.lstrip("-").isdigit():
                    msg = f"{part} is not a valid {what[:-1].replace('_', ' ')}"
                    raise ValueError(msg)
            try:
                ends.append(int(part))
            except ValueError:
                msg = f"invalid {what} range: {item}"
                raise ValueError(msg) from None
        out.append(Span(ends[0], ends[1]))
    return tuple(out)


def parse_interval(raw: Mapping[str, object]) -> TimeInterval:
    """One ``time_intervals`` entry; raise ValueError with Alertmanager's message."""
    unknown = set(raw) - {"times", "weekdays", "days_of_month", "months", "years", "location"}
    if unknown:
        msg = f"unknown field {sorted(unknown)[0]}"
        raise ValueError(msg)
    weekdays = tuple(
        Span((s.begin + 1) % 7, (s.end + 1) % 7)
        for s in _ranges(raw.get("weekdays"), "weekdays", _WEEKDAYS)
    )
    for s in weekdays:
        if s.begin > s.end:
            msg = "start day cannot be before end day"
            raise ValueError(msg)
    days = _ranges(raw.get("days_of_month"), "days_of_month", int)
    for s in days:
        for d in (s.begin, s.end):
            if d == 0 or not -31 <= d <= 31:
                msg = f"{d} is not a valid day of the month: out of range"
                raise ValueError(msg)
        if (s.begin > 0) != (s.end > 0) and s.begin < 0:
            msg = "end day must be negative if start day is negative"
            raise ValueError(msg)
        if (s.begin > 0) == (s.end > 0) and s.begin > s.end:
            msg = "start day cannot be before end day"
            raise ValueError(msg)
    months = _ranges(raw.get("months"), "months", _MONTHS)
    for s in months:
        if not (1 <= s.begin <= 12 and 1 <= s.end <= 12) or s.begin > s.end:
            msg = "invalid month range"
            raise ValueError(msg)
    years = _ranges(raw.get("years"), "years", int)
    for s in years:
        if s.begin > s.end:
            msg = "end year must be greater than or equal to start year"
            raise ValueError(msg)
    location: tzinfo = UTC
    name = raw.get("location")
    if name is not None and str(name) not in ("UTC", "Local", ""):
        try:
            location = ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {name}"
            raise ValueError(msg) from None
    return TimeInterval(_times(raw.get("times")), weekdays, days, months, years, location)
