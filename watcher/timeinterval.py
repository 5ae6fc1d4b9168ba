"""Alertmanager's time intervals (``timeinterval/timeinterval.go``): when a route may notify.

A named interval is a list of ``time_intervals`` entries; it contains an instant when any entry
does. An entry contains an instant when every field it sets does: ``times`` (``HH:MM`` to
``HH:MM``, end exclusive, up to ``24:00``), ``weekdays`` (``monday:friday``), ``days_of_month``
(``1:5``, ``-3:-1`` counted from the month's end), ``months`` (``january:march`` or ``1:3``),
``years``, all ranges inclusive, evaluated in ``location`` (default UTC).
https://prometheus.io/docs/alerting/latest/configuration/#time_interval

An entry is a dataclass read by the one converter (``watcher.validate``): each field has its
hook, each bad field or list item is refused at its own key path, an unknown key gets "did you
mean".
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.validate import Hook, Invalid, Key, Schema, each, refuse
from watcher.yamlpos import Located, format_path

_TIME = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}  # monday=0 here
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MAX_RANGES = 100  # per field; an interval is a few lines a person wrote


@dataclass(frozen=True, slots=True)
class Span:
    """An inclusive range of integers (minutes of day use ``end`` exclusive)."""

    begin: int
    end: int


# -- reading (messages as Alertmanager's; each entry of a list refused at its own index) --------

_TOO_MANY = f"expected a list of at most {_MAX_RANGES} entries"


def _minutes(value: object) -> int:
    text = str(value)
    if not _TIME.match(text):
        msg = f"couldn't parse timestamp {text}, invalid format"
        raise Invalid(msg)
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _spans(raw: object, parse: Callable[[str], Span]) -> tuple[Span, ...]:
    """Every item of the list ``raw`` through ``parse``; refuse the bad ones at their index."""
    if not isinstance(raw, list) or len(raw) > _MAX_RANGES:
        raise Invalid(_TOO_MANY)
    spans, problems = each(raw, lambda _i, item: parse(str(item)))
    refuse(problems, "ranges")
    return tuple(spans)


def _range(item: str, what: str, names: Mapping[str, int] | None = None) -> Span:
    """``a`` or ``a:b`` of the field ``what``, each end a number or (with ``names``) a name."""
    text = item.strip().lower()
    first, _, last = text.partition(":")
    ends = []
    for part in (first, last or first):
        if names is not None:
            if part in names:
                ends.append(names[part])
                continue
            if what == "weekdays" or not part.lstrip("-").isdigit():
                close = difflib.get_close_matches(part, list(names), n=1, cutoff=0.75)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                msg = f"{part} is not a valid {what[:-1]}{hint}"
                raise ValueError(msg)
        try:
            ends.append(int(part))
        except ValueError:
            msg = f"invalid {what} range: {item}"
            raise ValueError(msg) from None
    return Span(ends[0], ends[1])


def _weekday(item: str) -> Span:
    s = _range(item, "weekdays", _WEEKDAYS)
    span = Span((s.begin + 1) % 7, (s.end + 1) % 7)  # Go's numbering: sunday=0
    if span.begin > span.end:
        msg = "start day cannot be before end day"
        raise ValueError(msg)
    return span


def _day_of_month(item: str) -> Span:
    s = _range(item, "days_of_month")
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
    return s


def _month(item: str) -> Span:
    s = _range(item, "months", _MONTHS)
    if not (1 <= s.begin <= 12 and 1 <= s.end <= 12) or s.begin > s.end:
        msg = "invalid month range"
        raise ValueError(msg)
    return s


def _year(item: str) -> Span:
    s = _range(item, "years")
    if s.begin > s.end:
        msg = "end year must be greater than or equal to start year"
        raise ValueError(msg)
    return s


def _weekdays(raw: object) -> tuple[Span, ...]:
    return _spans(raw, _weekday)


def _days_of_month(raw: object) -> tuple[Span, ...]:
    return _spans(raw, _day_of_month)


def _months(raw: object) -> tuple[Span, ...]:
    return _spans(raw, _month)


def _years(raw: object) -> tuple[Span, ...]:
    return _spans(raw, _year)


def _location(raw: object) -> tzinfo:
    name = str(raw)
    if name in ("UTC", "Local", ""):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name}"
        raise Invalid(msg) from None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``times[]``: minutes of the day, ``end`` exclusive."""

    start: Annotated[int, Hook(_minutes), Key("start_time")]
    end: Annotated[int, Hook(_minutes), Key("end_time")]

    def __post_init__(self) -> None:
        """Refuse an empty or backwards range, as Alertmanager does."""
        if self.start >= self.end:
            raise Invalid("start time cannot be equal or greater than end time")


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One ``time_intervals`` entry, each field read by its hook (every problem at its key)."""

    times: tuple[TimeRange, ...] = ()
    weekdays: Annotated[tuple[Span, ...], Hook(_weekdays)] = ()  # Go's numbering: sunday=0
    days_of_month: Annotated[tuple[Span, ...], Hook(_days_of_month)] = ()
    months: Annotated[tuple[Span, ...], Hook(_months)] = ()
    years: Annotated[tuple[Span, ...], Hook(_years)] = ()
    location: Annotated[tzinfo, Hook(_location)] = UTC

    def __post_init__(self) -> None:
        """Bound ``times`` as the hooks bound the other fields."""
        if len(self.times) > _MAX_RANGES:
            raise Invalid(_TOO_MANY, ("times",))

    def contains(self, t: float) -> bool:
        """Whether the instant ``t`` (Unix seconds) lies in this entry."""
        dt = datetime.fromtimestamp(t, self.location)
        if self.times:
            minute = dt.hour * 60 + dt.minute
            if not any(r.start <= minute < r.end for r in self.times):
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


_ENTRY = Schema({})


def parse_interval(raw: Mapping[str, object]) -> TimeInterval:
    """One entry from its mapping; raise ValueError naming every problem (``key: reason``).

    The config reads entries with its own converter (``watcher.config.sections``), which places
    each problem at its file, line and key path.
    """
    built, problems = _ENTRY.read(Located(raw, "time interval"), raw, TimeInterval)
    if problems or built is None:
        raise ValueError("; ".join(f"{format_path(p.path)}: {p.message}" for p in problems))
    return built
