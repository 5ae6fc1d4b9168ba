"""Samples over time of every stored series, so rules can use range vectors and ``offset``.

Every write of a group to the series store (one per poll) appends one sample per series at
the poll time, and a stale marker for a series the group no longer has, as Prometheus's scrape
loop writes them. Only as much is kept as the loaded rules can read: the longest
``range + offset`` of any rule plus the 5-minute lookback (``required_retention``); with no
such rule nothing is recorded. Memory is bounded by ``max_samples`` per series as well.

The history lives in memory: after a restart, ranges fill up again as polls arrive (the
series store itself still restores the current values).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence

from watcher.matchers import Matcher
from watcher.rules.evaluate import Queryable, Sample, SampleLike
from watcher.rules.loader import RuleGroup
from watcher.rules.promql import (
    Aggregate,
    Binary,
    Call,
    Negate,
    Node,
    RangeSelector,
    Selector,
    Subquery,
)
from watcher.series import Series

LOOKBACK_MS = 5 * 60 * 1000
#: Far more than any rule window needs at the watcher's poll intervals.
MAX_SAMPLES_PER_SERIES = 100_000
_STALE = None  # a stale marker in a series' points

_Key = tuple[str, tuple[tuple[str, str], ...]]


def _window_ms(node: Node) -> int:
    """The longest ``range + offset`` (or offset) ``node`` reads into the past, in ms."""
    if isinstance(node, RangeSelector):
        return node.range_ms + max(node.selector.offset_ms, 0)
    if isinstance(node, Selector):
        return max(node.offset_ms, 0)
    if isinstance(node, Subquery):  # its steps reach back range + offset, then the expression's own
        return node.range_ms + max(node.offset_ms, 0) + _window_ms(node.expr)
    children: tuple[Node, ...] = ()
    if isinstance(node, Negate | Aggregate):
        children = (node.expr,)
    elif isinstance(node, Binary):
        children = (node.lhs, node.rhs)
    elif isinstance(node, Call):
        children = node.args
    return max((_window_ms(c) for c in children), default=0)


def required_retention(groups: Iterable[RuleGroup]) -> int:
    """Milliseconds of history the rules need (0 when none reads the past)."""
    window = max((_window_ms(r.node) for g in groups for r in g.rules), default=0)
    return window + LOOKBACK_MS if window else 0


class SampleHistory:
    """Per-series samples, appended as the store is written (``record`` is its listener)."""

    def __init__(self, retention_ms: int = 0, max_samples: int = MAX_SAMPLES_PER_SERIES) -> None:
        self.retention_ms = retention_ms
        self.max_samples = max_samples
        self._points: dict[_Key, deque[tuple[int, float | None]]] = {}
        self._names: dict[_Key, tuple[str, Mapping[str, str]]] = {}
        self._groups: dict[tuple[str, str], set[_Key]] = {}
        #: series no group writes any more, kept until their points age out
        self._orphans: set[_Key] = set()

    def record(self, source: str, group: str, series: Sequence[Series], now: float) -> None:
        """Append ``series`` polled at ``now``; stale markers for the group's vanished series."""
        if self.retention_ms <= 0:
            return
        ms = round(now * 1000)
        current: set[_Key] = set()
        for s in series:
            key = (s.name, tuple(sorted(s.labels.items())))
            current.add(key)
            self._append(key, ms, s.value)
            self._names[key] = (s.name, s.labels)
        vanished = self._groups.get((source, group), set()) - current
        for key in vanished:
            self._append(key, ms, _STALE)
        self._groups[(source, group)] = current
        # only this group's series and the ones no group writes any more age here, so a
        # poll costs its own series, not the whole history
        self._orphans |= vanished
        self._orphans -= current
        self._trim(ms, current)
        self._orphans = self._trim(ms, self._orphans)

    def _append(self, key: _Key, ms: int, value: float | None) -> None:
        points = self._points.get(key)
        if points is None:
            points = self._points[key] = deque(maxlen=self.max_samples)
        if points and points[-1][0] >= ms:
            return  # out of order or the same poll twice: Prometheus keeps the first
        points.append((ms, value))

    def _trim(self, now_ms: int, keys: Iterable[_Key]) -> set[_Key]:
        """Drop the points of ``keys`` older than the retention; return the keys still held."""
        oldest = now_ms - self.retention_ms
        kept: set[_Key] = set()
        for key in keys:
            points = self._points.get(key)
            if points is None:
                continue
            while points and points[0][0] < oldest:
                points.popleft()
            if points:
                kept.add(key)
            else:
                del self._points[key]
                del self._names[key]
        return kept

    def __len__(self) -> int:
        return sum(len(p) for p in self._points.values())

    def over(self, current: Queryable) -> HistoryView:
        """A rule source: ``current`` for plain selectors, this history for the past."""
        return HistoryView(current, self)

    def matching(
        self, name: str | None, matchers: Sequence[Matcher]
    ) -> Iterator[tuple[str, Mapping[str, str], deque[tuple[int, float | None]]]]:
        """Each series named ``name`` (any when None) satisfying ``matchers``, with its points."""
        for key, points in self._points.items():
            series_name, labels = self._names[key]
            if name is not None and series_name != name:
                continue
            if all(
                m.matches_value(series_name if m.name == "__name__" else labels.get(m.name, ""))
                for m in matchers
            ):
                yield series_name, labels, points


class HistoryView:
    """What the evaluator reads: the current snapshot plus the samples before it."""

    def __init__(self, current: Queryable, history: SampleHistory) -> None:
        self.current = current
        self.history = history

    def select(self, name: str | None, matchers: Sequence[Matcher]) -> Iterable[SampleLike]:
        """The current series, exactly as without history."""
        return self.current.select(name, matchers)

    def select_at(
        self, name: str | None, matchers: Sequence[Matcher], at_ms: int
    ) -> Iterable[SampleLike]:
        """Latest sample of each series in [at-5m, at], unless it is a stale marker."""
        out: list[SampleLike] = []
        for series_name, labels, points in self.history.matching(name, matchers):
            latest: tuple[int, float | None] | None = None
            for point in points:
                if point[0] > at_ms:
                    break
                latest = point
            if latest is not None and latest[0] >= at_ms - LOOKBACK_MS and latest[1] is not None:
                out.append(Sample(series_name, labels, latest[1]))
        return out

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        """Each series' samples in [start_ms, end_ms], stale markers left out."""
        for series_name, labels, points in self.history.matching(name, matchers):
            window = [(t, v) for t, v in points if start_ms <= t <= end_ms and v is not None]
            yield series_name, labels, window
