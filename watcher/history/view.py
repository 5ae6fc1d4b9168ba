"""What the evaluator reads: the current snapshot for plain selectors, the history for the past."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from watcher.history.points import Points
from watcher.history.retention import LOOKBACK_MS
from watcher.history.stale import is_stale
from watcher.matchers import Matcher
from watcher.rules.evaluate import Queryable, Sample, SampleLike


class SampleSource(Protocol):
    """The history as the view reads it (``watcher.history.memory.SampleHistory``)."""

    def matching(self, name: str | None, matchers: Sequence[Matcher]) -> Iterator[Points]:
        """Series named ``name`` (any when None) satisfying ``matchers``."""
        ...

    def samples(self, p: Points, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """``p``'s samples in [start_ms, end_ms], stale markers included."""
        ...

    def latest(self, p: Points, at_ms: int, lookback_ms: int) -> float | None:
        """``p``'s value at ``at_ms``, None when absent or stale."""
        ...


class HistoryView:
    """The current snapshot plus the samples before it (a ``HistoryQueryable``)."""

    def __init__(self, current: Queryable, history: SampleSource) -> None:
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
        for p in self.history.matching(name, matchers):
            value = self.history.latest(p, at_ms, LOOKBACK_MS)
            if value is not None:
                out.append(Sample(p.name, p.labels, value))
        return out

    def select_range(
        self, name: str | None, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Iterable[tuple[str | None, Mapping[str, str], list[tuple[int, float]]]]:
        """Each series' samples in [start_ms, end_ms], stale markers left out."""
        for p in self.history.matching(name, matchers):
            window = [
                (t, v) for t, v in self.history.samples(p, start_ms, end_ms) if not is_stale(v)
            ]
            yield p.name, p.labels, window
