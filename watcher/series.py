"""Series: the unit of data shared by sources, the store, /metrics and the rule engine.

A series is what Prometheus would scrape: a metric name, a label set (without ``__name__``)
and a float value. A ``Snapshot`` is one consistent view of every current series at one
instant; a rule evaluation sees exactly one snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Series:
    """One sample of one time series, as the rule engine and /metrics see it."""

    name: str
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every current series at ``time`` (Unix seconds), indexed by metric name."""

    time: float
    by_name: Mapping[str, Sequence[Series]] = field(default_factory=dict)

    @classmethod
    def of(cls, time: float, series: Iterable[Series]) -> Snapshot:
        """Index ``series`` by name."""
        by_name: dict[str, list[Series]] = {}
        for s in series:
            by_name.setdefault(s.name, []).append(s)
        return cls(time, by_name)

    def select(self, name: str | None) -> Iterable[Series]:
        """Series named ``name``; every series when ``name`` is None."""
        if name is not None:
            return self.by_name.get(name, ())
        return self._all()

    def _all(self) -> Iterator[Series]:
        for group in self.by_name.values():
            yield from group

    def __len__(self) -> int:
        return sum(len(g) for g in self.by_name.values())
