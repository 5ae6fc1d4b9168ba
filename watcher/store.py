"""The series store: the latest good series of every source, with staleness.

Each source writes *groups* of series (a coupon source writes one group per status, a balance
source one per account). A successful read of a group replaces it whole, so an item that
vanished upstream vanishes here. A group that has not been refreshed for the source's
``stale_after`` disappears, so a failing source keeps its last view only for that long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from watcher.series import Series, Snapshot

#: Told of every group written: (source, group, series, now). Must not raise.
Listener = Callable[[str, str, Sequence[Series], float], None]


@dataclass(frozen=True, slots=True)
class _Group:
    series: tuple[Series, ...]
    updated_at: float


class SeriesStore:
    """Latest series per (source, group); the rule engine and /metrics read consistent copies."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, _Group]] = {}
        self._stale_after: dict[str, float] = {}
        self._help: dict[str, str] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` after every ``put`` (the status page keeps recent samples)."""
        self._listeners.append(listener)

    def describe(self, name: str, help_text: str) -> None:
        """Set the HELP text of metric ``name``."""
        self._help[name] = help_text

    def configure(self, source: str, stale_after: float) -> None:
        """Declare a source and how long its series outlive a failed refresh."""
        self._stale_after[source] = stale_after
        self._groups.setdefault(source, {})

    def remove_source(self, source: str) -> None:
        """Forget a source and its series (config reload)."""
        self._groups.pop(source, None)
        self._stale_after.pop(source, None)

    def sources(self) -> list[str]:
        """Known source names."""
        return list(self._groups)

    def put(self, source: str, group: str, series: Iterable[Series], now: float) -> None:
        """Replace ``group`` of ``source`` with ``series`` read at ``now``."""
        stored = _Group(tuple(series), now)
        self._groups.setdefault(source, {})[group] = stored
        for listener in self._listeners:
            listener(source, group, stored.series, now)

    def drop_group(self, source: str, group: str) -> None:
        """Remove one group (an item no longer configured)."""
        self._groups.get(source, {}).pop(group, None)

    def expire(self, now: float) -> int:
        """Drop groups older than their source's ``stale_after``; return how many went."""
        dropped = 0
        for source, groups in self._groups.items():
            limit = self._stale_after.get(source, float("inf"))
            for key in [k for k, g in groups.items() if now - g.updated_at > limit]:
                del groups[key]
                dropped += 1
        return dropped

    def series(self) -> Iterator[Series]:
        """Every current series."""
        for groups in list(self._groups.values()):
            for group in list(groups.values()):
                yield from group.series

    def groups(self) -> Iterator[tuple[str, str, tuple[Series, ...], float]]:
        """Every (source, group, series, updated_at) in /metrics order.

        A put stores a new series tuple, so a reader may cache what it derived from a tuple and
        reuse it while the group holds the same tuple (``watcher.exposition`` does).
        """
        for source, groups in list(self._groups.items()):
            for key, g in list(groups.items()):
                yield source, key, g.series, g.updated_at

    def help_texts(self) -> dict[str, str]:
        """The HELP texts set with ``describe``, by metric name."""
        return dict(self._help)

    def group_updated_at(self, source: str, group: str) -> float | None:
        """When ``group`` was last refreshed, if it is present."""
        g = self._groups.get(source, {}).get(group)
        return None if g is None else g.updated_at

    def snapshot(self, now: float, extra: Iterable[Series] = ()) -> Snapshot:
        """One consistent view: every series (after expiry) plus ``extra`` (self-metrics)."""
        self.expire(now)
        return Snapshot.of(now, [*self.series(), *extra])

    def __len__(self) -> int:
        return sum(len(g.series) for groups in self._groups.values() for g in groups.values())


class StoreCollector(Collector):
    """Exposes the store's series on /metrics as gauges (one family per metric name)."""

    def __init__(self, store: SeriesStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        """Yield one gauge family per name, sorted for stable output."""
        families: dict[str, list[Series]] = {}
        for s in self._store.series():
            families.setdefault(s.name, []).append(s)
        for name in sorted(families):
            metric = Metric(name, self._store._help.get(name, name.replace("_", " ")), "gauge")
            metric.samples = [
                Sample(name, dict(s.labels), s.value, None, None) for s in families[name]
            ]
            yield metric


def registry_series(families: Iterable[Metric], skip: Sequence[str] = ()) -> list[Series]:
    """Flatten prometheus-client metric families into Series (for rules over self-metrics).

    Counters appear with their ``_total`` sample names and histograms as ``_bucket`` / ``_sum`` /
    ``_count``, exactly as scraped; ``_created`` samples are left out as Prometheus ignores them
    by default.
    """
    out: list[Series] = []
    for family in families:
        if family.name in skip:
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            out.append(Series(sample.name, _labels(sample.labels), float(sample.value)))
    return out


def _labels(labels: Mapping[str, str]) -> dict[str, str]:
    return dict(labels)
