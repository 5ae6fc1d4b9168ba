"""One series' samples in memory: two flat arrays (8-byte times, 8-byte values)."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping

#: A series that was never written before can have nothing older on disk.
NO_FLOOR = -(2**62)


class Points:
    """One series: name, labels and its samples ``ts[head:]`` / ``vs[head:]``, oldest first."""

    __slots__ = ("floor", "head", "labels", "name", "retention_ms", "sid", "ts", "vs")

    def __init__(self, name: str, labels: Mapping[str, str], retention_ms: int, sid: int) -> None:
        self.name = name
        self.labels = labels
        self.retention_ms = retention_ms
        #: id of the series in the disk store (0 without one)
        self.sid = sid
        self.ts: array[int] = array("q")
        self.vs: array[float] = array("d")
        #: samples before ``head`` are dropped (compacted away in batches)
        self.head = 0
        #: memory holds every sample at or after ``floor``; earlier ones only the disk does
        self.floor = NO_FLOOR

    def __len__(self) -> int:
        return len(self.ts) - self.head

    def drop_before(self, oldest_ms: int) -> int:
        """Forget samples older than ``oldest_ms``; return how many went."""
        cut = bisect_left(self.ts, oldest_ms, self.head)
        return self.drop_first(cut - self.head)

    def drop_first(self, count: int) -> int:
        """Forget the ``count`` oldest samples (amortised: the arrays shrink in batches)."""
        if count <= 0:
            return 0
        self.head += count
        if self.head > len(self.ts) // 2:
            del self.ts[: self.head]
            del self.vs[: self.head]
            self.head = 0
        return count

    def window(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Indices [i, j) of the samples with start_ms <= t <= end_ms."""
        return bisect_left(self.ts, start_ms, self.head), bisect_right(self.ts, end_ms, self.head)
