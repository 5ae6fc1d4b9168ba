"""Samples over time of every recorded series, so rules and queries can read the past.

Every write of a group to the series store (one per poll) appends one sample per series at
the poll time, and a stale marker (Prometheus's stale NaN) for a series the group no longer
has, or for every series of a group that expired or was dropped, as Prometheus's scrape loop
writes them (https://prometheus.io/docs/prometheus/latest/querying/basics/#staleness). Only
as much is kept as the loaded rules and the query API can read (``Retention``).

A series' samples sit in two flat arrays (8-byte times, 8-byte values) instead of a tuple per
sample. Memory is bounded by ``max_in_memory`` samples in all: past it, the oldest samples of
every series are evicted from memory; with a ``SampleDisk`` attached they stay in SQLite and
are read back when a query reaches before what memory holds (``floor``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from watcher.config.model import MAX_SAMPLES_IN_MEMORY
from watcher.history.points import NO_FLOOR, Points
from watcher.history.retention import Retention
from watcher.history.stale import STALE_NAN, is_stale
from watcher.history.view import HistoryView
from watcher.matchers import Matcher
from watcher.series import Series

if TYPE_CHECKING:
    from watcher.rules.evaluate import Queryable

_ORPHAN_TRIM_MS = 60_000
#: How often (in sample time) samples past their retention are deleted from disk.
_PRUNE_MS = 10 * 60_000

#: A series' identity: its name and sorted labels in one string (a third of a tuple's memory).
_Key = str


def series_key(name: str, labels: Mapping[str, str]) -> _Key:
    """``name`` and ``labels`` as one string, exact for any label values: names cannot hold NUL
    or SOH, and each value is prefixed by its length, so no two label sets share a key."""
    return name + "".join(f"\x00{k}\x01{len(v)}:{v}" for k, v in sorted(labels.items()))


class SampleDisk(Protocol):
    """Where samples outlive the process (``watcher.history.disk.SampleDisk``)."""

    def series_id(self, name: str, labels: Mapping[str, str]) -> int:
        """The stored id of a series (made the first time)."""
        ...

    def append(self, sid: int, ms: int, value: float) -> None:
        """Queue one sample for writing."""
        ...

    def prune(self, cutoffs: Sequence[tuple[int, int]], forget: Sequence[int] = ()) -> None:
        """Queue deleting samples before each cutoff, and whole series."""
        ...

    def read(self, sid: int, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """Stored samples of ``sid`` in [start_ms, end_ms]."""
        ...

    def restore(self, now_ms: int, retention: Retention, load_ms: int) -> Iterator[Points]:
        """Every stored series, its last ``load_ms`` of samples in memory."""
        ...

    def start(self) -> None:
        """Start writing."""
        ...

    def close(self) -> None:
        """Write what is queued and stop."""
        ...


class SampleHistory:
    """Per-series samples, appended as the store is written (``record`` is its listener)."""

    def __init__(
        self,
        retention_ms: int | Retention = 0,
        max_in_memory: int = MAX_SAMPLES_IN_MEMORY,
        disk: SampleDisk | None = None,
    ) -> None:
        self.retention = (
            retention_ms if isinstance(retention_ms, Retention) else Retention(retention_ms)
        )
        self.max_in_memory = max_in_memory
        self.disk = disk
        self._series: dict[_Key, Points] = {}
        self._by_name: dict[str, dict[_Key, Points]] = {}
        self._groups: dict[tuple[str, str], set[_Key]] = {}
        #: series no group writes any more, kept until their samples age out
        self._orphans: set[_Key] = set()
        self._orphans_trimmed = 0
        self._pruned = 0
        #: disk ids of series forgotten since the last prune
        self._forgotten: list[int] = []
        self._count = 0
        #: the latest time recorded (stale markers for a group dropped without a time)
        self.last_ms = 0

    @property
    def retention_ms(self) -> int:
        """The longest any metric is kept."""
        return self.retention.longest_ms

    def set_retention(self, retention: Retention) -> None:
        """Apply new retention (a reload); samples past it go at their series' next write."""
        self.retention = retention
        for p in self._series.values():
            p.retention_ms = retention.for_metric(p.name)

    def record(self, source: str, group: str, series: Sequence[Series], now: float) -> None:
        """Append ``series`` polled at ``now``; stale markers for the group's vanished series."""
        ms = round(now * 1000)
        self.last_ms = max(self.last_ms, ms)
        current: set[_Key] = set()
        for s in series:
            key = series_key(s.name, s.labels)
            p = self._series.get(key)
            if p is None:
                retention = self.retention.for_metric(s.name)
                if retention <= 0:
                    continue
                p = self._create(key, s.name, s.labels, retention)
            current.add(key)
            self._append(p, ms, s.value)
        self._end_group(source, group, current, ms)
        # only this group's series (and, once a minute, the orphans) age here, so a poll
        # costs its own series, not the whole history
        self._trim(ms, current)
        if ms - self._orphans_trimmed >= _ORPHAN_TRIM_MS:
            self._orphans_trimmed = ms
            self._orphans = self._trim(ms, self._orphans)
        if self._count > self.max_in_memory:
            self._evict()
        if self.disk is not None and ms - self._pruned >= _PRUNE_MS:
            self._pruned = ms
            cutoffs = [(p.sid, ms - p.retention_ms) for p in self._series.values()]
            self.disk.prune(cutoffs, self._forgotten)
            self._forgotten = []

    def drop(self, source: str, group: str, now: float | None = None) -> None:
        """The group is gone (expired, dropped, its source removed): mark its series stale."""
        ms = self.last_ms if now is None else round(now * 1000)
        self._end_group(source, group, set(), ms)

    def _end_group(self, source: str, group: str, current: set[_Key], ms: int) -> None:
        vanished = self._groups.get((source, group), set()) - current
        for key in vanished:
            p = self._series.get(key)
            if p is not None:
                self._append(p, ms, STALE_NAN)
        if current:
            self._groups[(source, group)] = current
        else:
            self._groups.pop((source, group), None)
        self._orphans |= vanished
        self._orphans -= current

    def seed_group(self, source: str, group: str, series: Iterable[Series]) -> None:
        """Know ``group``'s members (restored at start) so a series gone since gets a marker."""
        keys = {series_key(s.name, s.labels) for s in series}
        self._groups[(source, group)] = {k for k in keys if k in self._series}

    def _create(self, key: _Key, name: str, labels: Mapping[str, str], retention: int) -> Points:
        sid = self.disk.series_id(name, labels) if self.disk is not None else 0
        p = Points(name, labels, retention, sid)  # Series labels are never changed: shared
        self._series[key] = p
        self._by_name.setdefault(name, {})[key] = p
        return p

    def load(self, now: float, load_ms: int) -> int:
        """Read the disk's series back (the last ``load_ms`` of samples into memory).

        Returns how many series came back; a metric no longer kept is forgotten on disk too.
        """
        if self.disk is None:
            return 0
        ms = round(now * 1000)
        gone: list[int] = []
        for p in self.disk.restore(ms, self.retention, load_ms):
            if p.retention_ms <= 0:
                gone.append(p.sid)
                continue
            key = series_key(p.name, p.labels)
            self._series[key] = p
            self._by_name.setdefault(p.name, {})[key] = p
            self._orphans.add(key)
            self._count += len(p)
            if p.ts:
                self.last_ms = max(self.last_ms, p.ts[-1])
        if gone:
            self.disk.prune([], gone)
        self._orphans = self._trim(ms, self._orphans)
        return len(self._series)

    def _append(self, p: Points, ms: int, value: float) -> None:
        if p.ts and p.ts[-1] >= ms:
            return  # out of order or the same poll twice: Prometheus keeps the first
        p.ts.append(ms)
        p.vs.append(value)
        self._count += 1
        if self.disk is not None:
            self.disk.append(p.sid, ms, value)

    def _trim(self, now_ms: int, keys: Iterable[_Key]) -> set[_Key]:
        """Drop the samples of ``keys`` older than their retention; return the keys still held."""
        kept: set[_Key] = set()
        for key in keys:
            p = self._series.get(key)
            if p is None:
                continue
            self._count -= p.drop_before(now_ms - p.retention_ms)
            if len(p) or (p.floor > NO_FLOOR and p.floor > now_ms - p.retention_ms):
                kept.add(key)
            else:
                del self._series[key]
                if p.sid:
                    self._forgotten.append(p.sid)
                names = self._by_name[p.name]
                del names[key]
                if not names:
                    del self._by_name[p.name]
        return kept

    def _evict(self) -> None:
        """Bring memory to 90 % of its bound: every series gives up its oldest share."""
        target = self.max_in_memory * 9 // 10
        share = (self._count - target) / self._count
        for p in self._series.values():
            n = len(p)
            cut = min(math.ceil(n * share), n - 1)
            if cut > 0:
                self._count -= p.drop_first(cut)
                p.floor = p.ts[p.head]

    def __len__(self) -> int:
        return self._count

    def over(self, current: Queryable) -> HistoryView:
        """A rule source: ``current`` for plain selectors, this history for the past."""
        return HistoryView(current, self)

    def matching(self, name: str | None, matchers: Sequence[Matcher]) -> Iterator[Points]:
        """Each series named ``name`` (any when None) satisfying ``matchers``."""
        pool = self._series if name is None else self._by_name.get(name, {})
        for p in list(pool.values()):
            labels = p.labels
            if all(
                m.matches_value(p.name if m.name == "__name__" else labels.get(m.name, ""))
                for m in matchers
            ):
                yield p

    def samples(self, p: Points, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """``p``'s samples in [start_ms, end_ms] (stale markers included), disk first."""
        out: list[tuple[int, float]] = []
        if start_ms < p.floor and self.disk is not None:
            out = self.disk.read(p.sid, start_ms, min(end_ms, p.floor - 1))
        i, j = p.window(start_ms, end_ms)
        ts, vs = p.ts, p.vs
        out.extend((ts[k], vs[k]) for k in range(i, j))
        return out

    def latest(self, p: Points, at_ms: int, lookback_ms: int) -> float | None:
        """``p``'s value at ``at_ms``: its latest sample in [at - lookback, at], unless stale."""
        j = bisect_right(p.ts, at_ms, p.head) - 1
        if j >= p.head:
            t, v = p.ts[j], p.vs[j]
        elif at_ms - lookback_ms < p.floor and self.disk is not None:
            found = self.disk.read(p.sid, at_ms - lookback_ms, min(at_ms, p.floor - 1))
            if not found:
                return None
            t, v = found[-1]
        else:
            return None
        if t < at_ms - lookback_ms or is_stale(v):
            return None
        return v
