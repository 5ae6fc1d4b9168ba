"""Go ``time.Time.Format`` layouts render as Go renders them (src/time/format.go)."""

from __future__ import annotations

import pytest

from watcher.gotemplate.timefmt import format_time
from watcher.gotemplate.values import Time

# 2024-01-02 22:13:20 UTC plus 123 ms (1704233600 s since the epoch).
_SECONDS = 1_704_233_600


def _at(nanos: int) -> Time:
    return Time(None, nanos=_SECONDS * 1_000_000_000 + nanos)


@pytest.mark.parametrize(
    ("layout", "nanos", "expected"),
    [
        ("15:04:05.000", 123_000_000, "22:13:20.123"),
        ("15:04:05,000", 123_000_000, "22:13:20,123"),
        ("15:04:05.000000", 120_000_000, "22:13:20.120000"),
        ("15:04:05.0", 0, "22:13:20.0"),
        ("15:04:05.000000000000", 123_456_789, "22:13:20.123456789"),
        ("15:04:05.999", 120_000_000, "22:13:20.12"),
        ("15:04:05,999999", 100_000_000, "22:13:20,1"),
        ("15:04:05.999", 0, "22:13:20"),
        ("15:04:05.99", 1_000_000, "22:13:20"),
        ("2006-01-02T15:04:05.999999999Z07:00", 5_000, "2024-01-02T22:13:20.000005Z"),
        ("05.0009", 123_000_000, "20.0009"),
    ],
)
def test_fractional_seconds_follow_go(layout: str, nanos: int, expected: str) -> None:
    """``.000``/``,000`` print fixed digits, ``.999`` trims trailing zeros, as Go's appendNano."""
    assert expected == format_time(_at(nanos), layout)
