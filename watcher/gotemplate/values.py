"""Go values a template sees: structs with fields and methods, typed maps and slices, time.

Templates reach data only through these: a ``GoStruct`` exposes the fields and methods it
declares and nothing of Python (no attributes, no dunder names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from watcher.gotemplate.timefmt import format_time


@dataclass(frozen=True, slots=True)
class GoFunc:
    """A function or bound method: Go parameter types decide argument checks and conversion.

    Types are ``any``, ``string``, ``int``, ``float64``, ``bool``, ``[]string``; ``variadic``
    is the element type of a final ``...`` parameter. ``fn`` raises ``ValueError`` for an
    error result (reported as ``error calling NAME: ...``).
    """

    name: str
    fn: Callable[..., object]
    params: tuple[str, ...] = ()
    variadic: str | None = None
    lazy: bool = False  # and/or: arguments are evaluated one by one by the executor


class GoStruct:
    """Base for struct values; subclasses list their exported fields and methods."""

    go_type = "struct {}"

    def go_fields(self) -> list[tuple[str, object]]:
        """Exported fields in declaration order."""
        return []

    def go_method(self, name: str) -> GoFunc | None:
        """A method by name, already bound to this value."""
        del name
        return None

    def go_string(self) -> str | None:
        """``String()`` when the type is a ``fmt.Stringer``."""
        return None


class Struct(GoStruct):
    """A struct with named fields (and optional methods)."""

    def __init__(
        self,
        go_type: str,
        fields: Iterable[tuple[str, object]],
        methods: Mapping[str, GoFunc] | None = None,
    ) -> None:
        self.go_type = go_type
        self._fields = list(fields)
        self._methods = dict(methods or {})

    def go_fields(self) -> list[tuple[str, object]]:
        """Exported fields in declaration order."""
        return self._fields

    def go_method(self, name: str) -> GoFunc | None:
        """A method by name."""
        return self._methods.get(name)


class GoMap(dict[str, object]):
    """A Go map: its type name for errors and the zero value a missing key yields."""

    def __init__(
        self,
        items: Mapping[str, object] | Iterable[tuple[str, object]] = (),
        *,
        go_type: str = "map[string]interface {}",
        zero: object = None,
    ) -> None:
        super().__init__(items)
        self.go_type = go_type
        self.zero = zero

    def go_method(self, name: str) -> GoFunc | None:
        """Methods of the named map type (none for a plain map)."""
        del name
        return None


class GoSlice(list[object]):
    """A Go slice with its type name and methods."""

    def __init__(self, items: Iterable[object] = (), *, go_type: str = "[]interface {}") -> None:
        super().__init__(items)
        self.go_type = go_type

    def go_method(self, name: str) -> GoFunc | None:
        """Methods of the named slice type."""
        del name
        return None


def string_slice(items: Iterable[str]) -> GoSlice:
    """A ``[]string``."""
    return GoSlice(items, go_type="[]string")


class Time(GoStruct):
    """Go's ``time.Time`` in UTC; prints as ``time.Time.String()``."""

    go_type = "time.Time"

    def __init__(
        self, seconds: float | None, nanos: int | None = None, zone: tzinfo | None = None
    ) -> None:
        # None is Go's zero time (0001-01-01 00:00:00 UTC).
        self.nanos = nanos if nanos is not None else _to_nanos(seconds)
        self.zone = zone

    def datetime(self) -> datetime:
        """As an aware datetime (microsecond precision) in the time's zone."""
        dt = _EPOCH_ZERO_UTC + timedelta(microseconds=self.nanos // 1000)
        return dt.astimezone(self.zone) if self.zone is not None else dt

    def zone_name(self) -> str:
        """The zone abbreviation, ``UTC`` unless ``tz`` moved the time."""
        return (self.datetime().tzname() or "UTC") if self.zone is not None else "UTC"

    def go_string(self) -> str:
        """``2006-01-02 15:04:05.999999999 -0700 MST``."""
        dt = self.datetime()
        frac = self.nanos % 1_000_000_000
        tail = f".{frac:09d}".rstrip("0") if frac else ""
        return f"{dt:%Y-%m-%d %H:%M:%S}{tail} {dt:%z} {self.zone_name()}"

    def go_method(self, name: str) -> GoFunc | None:
        """``Unix``, ``UnixNano``, ``UTC``, ``IsZero`` and ``Format``."""
        methods: dict[str, GoFunc] = {
            "Unix": GoFunc("Unix", lambda: self.nanos // 1_000_000_000),
            "UnixNano": GoFunc("UnixNano", lambda: self.nanos),
            "UTC": GoFunc("UTC", lambda: self),
            "IsZero": GoFunc("IsZero", lambda: self.nanos == _ZERO_NANOS),
            "Format": GoFunc("Format", lambda layout: format_time(self, layout), ("string",)),
        }
        return methods.get(name)


_ZERO_NANOS = -62135596800 * 1_000_000_000
_EPOCH_ZERO_UTC = datetime(1970, 1, 1, tzinfo=UTC)


def _to_nanos(seconds: float | None) -> int:
    if seconds is None:
        return _ZERO_NANOS
    return round(seconds * 1000) * 1_000_000  # the watcher keeps milliseconds


def go_type(value: object) -> str:
    """The Go type name of a template value, as errors and ``%!v(T=...)`` show it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    named = getattr(value, "go_type", None)
    if isinstance(named, str):
        return named
    if isinstance(value, Mapping):
        return "map[string]string"
    if isinstance(value, Sequence):
        return "[]string" if all(isinstance(v, str) for v in value) else "[]interface {}"
    return type(value).__name__
