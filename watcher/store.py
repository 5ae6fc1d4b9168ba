"""The series store: the latest good series of every source, with staleness, outliving restarts.

Each source writes *groups* of series (a coupon source writes one group per status, a balance
source one per account). A successful read of a group replaces it whole, so an item that
vanished upstream vanishes here. A group that has not been refreshed for the source's
``stale_after`` disappears, so a failing source keeps its last view only for that long.

With a state database attached, every group is also written there with the time upstream
answered for it, and read back at start: after a restart the rules see the series the previous
process saw, aging from their original poll time (Prometheus's samples outlive its process the
same way), instead of an empty store that resolves every alert.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from watcher.series import Series, Snapshot
from watcher.state import transaction


@dataclass(frozen=True, slots=True)
class Health:
    """A source's last known health: what ``watcher_source_up`` and its last success said."""

    up: bool
    last_poll: float
    last_success: float | None
    last_error: str | None


#: Told of every group written: (source, group, series, now). Must not raise.
Listener = Callable[[str, str, Sequence[Series], float], None]
#: Told of every group gone (expired, dropped, source removed): (source, group, now or None).
DropListener = Callable[[str, str, float | None], None]


@dataclass(frozen=True, slots=True)
class _Group:
    series: tuple[Series, ...]
    updated_at: float
    #: increases whenever the group's series change (for caches of rendered output)
    generation: int


class SeriesStore:
    """Latest series per (source, group); the rule engine and /metrics read consistent copies.

    Writes to the attached database raise ``sqlite3.Error``; the in-memory view is updated
    first, so a full disk costs durability, never the data the rules see.
    """

    def __init__(self, db: sqlite3.Connection | None = None) -> None:
        self._groups: dict[str, dict[str, _Group]] = {}
        self._stale_after: dict[str, float] = {}
        self._help: dict[str, str] = {}
        self._db = db
        self._generation = 0
        #: sources whose last write failed: their next write rewrites every group
        self._unsynced: set[str] = set()
        self._listeners: list[Listener] = []
        self._drop_listeners: list[DropListener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` after every write of a group (the status page keeps recent samples)."""
        self._listeners.append(listener)

    def subscribe_drops(self, listener: DropListener) -> None:
        """Call ``listener`` when a group goes (the sample history marks its series stale)."""
        self._drop_listeners.append(listener)

    def _dropped(self, source: str, group: str, now: float | None) -> None:
        for listener in self._drop_listeners:
            listener(source, group, now)

    def describe(self, name: str, help_text: str) -> None:
        """Set the HELP text of metric ``name``."""
        self._help[name] = help_text

    def help_text(self, name: str) -> str:
        """The HELP text of metric ``name``."""
        return self._help.get(name, name.replace("_", " "))

    def configure(self, source: str, stale_after: float) -> None:
        """Declare a source and how long its series outlive a failed refresh."""
        self._stale_after[source] = stale_after
        self._groups.setdefault(source, {})

    def restore(self, sources: Iterable[str], now: float) -> int:
        """Read back the persisted groups of ``sources`` (dropping every other source's rows).

        Groups keep their original poll time, so ``expire`` ages them as if the process had
        never stopped. Returns how many groups came back.
        """
        if self._db is None:
            return 0
        wanted = set(sources)
        restored = 0
        gone: set[str] = set()
        for source, grp, updated_at, raw in self._db.execute(
            "SELECT source, grp, updated_at, series FROM series_groups"
        ).fetchall():
            if source not in wanted:
                gone.add(source)
                continue
            try:
                series = tuple(Series(str(n), dict(lb), float(v)) for n, lb, v in json.loads(raw))
            except (ValueError, TypeError):
                continue  # an unreadable row is a group we have not seen: the next poll fills it
            self._generation += 1
            self._groups.setdefault(source, {})[grp] = _Group(
                series, float(updated_at), self._generation
            )
            restored += 1
        gone |= {
            str(row[0])
            for row in self._db.execute("SELECT source FROM source_health").fetchall()
            if row[0] not in wanted
        }
        if gone:
            rows = [(s,) for s in sorted(gone)]
            with transaction(self._db):
                self._db.executemany("DELETE FROM series_groups WHERE source = ?", rows)
                self._db.executemany("DELETE FROM source_health WHERE source = ?", rows)
        self.expire(now)
        return restored

    def health(self, source: str) -> Health | None:
        """The health the previous process last recorded for ``source``, if any."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT up, last_poll, last_success, last_error FROM source_health WHERE source = ?",
            (source,),
        ).fetchone()
        if row is None:
            return None
        return Health(bool(row[0]), float(row[1]), row[2], row[3])

    def remove_source(self, source: str, now: float | None = None) -> None:
        """Forget a source, its series and its health (config reload)."""
        for group in self._groups.pop(source, {}):
            self._dropped(source, group, now)
        self._stale_after.pop(source, None)
        if self._db is not None:
            with transaction(self._db):
                self._db.execute("DELETE FROM series_groups WHERE source = ?", (source,))
                self._db.execute("DELETE FROM source_health WHERE source = ?", (source,))

    def sources(self) -> list[str]:
        """Known source names."""
        return list(self._groups)

    def put(self, source: str, group: str, series: Iterable[Series], now: float) -> None:
        """Replace ``group`` of ``source`` with ``series`` read at ``now``."""
        self.put_groups(source, {group: series}, now)

    def put_groups(
        self,
        source: str,
        groups: Mapping[str, Iterable[Series]],
        now: float,
        health: Health | None = None,
    ) -> None:
        """Replace each of ``groups`` of ``source``, read at ``now``, and record ``health``,
        in one write."""
        stored = self._groups.setdefault(source, {})
        changed: list[tuple[str, str, float, str]] = []
        touched: list[tuple[float, str, str]] = []
        for key, series in groups.items():
            fresh = tuple(series)
            old = stored.get(key)
            if old is not None and old.series == fresh:
                stored[key] = _Group(old.series, now, old.generation)
                if source in self._unsynced:
                    changed.append((source, key, now, _dump(fresh)))
                else:
                    touched.append((now, source, key))
                continue
            self._generation += 1
            stored[key] = _Group(fresh, now, self._generation)
            changed.append((source, key, now, _dump(fresh)))
        for key in groups:
            for listener in self._listeners:
                listener(source, key, stored[key].series, now)
        if self._db is None or not (changed or touched or health):
            return
        try:
            with transaction(self._db):
                if health is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO source_health"
                        " (source, up, last_poll, last_success, last_error) VALUES (?, ?, ?, ?, ?)",
                        (
                            source,
                            int(health.up),
                            health.last_poll,
                            health.last_success,
                            health.last_error,
                        ),
                    )
                self._db.executemany(
                    "INSERT OR REPLACE INTO series_groups (source, grp, updated_at, series)"
                    " VALUES (?, ?, ?, ?)",
                    changed,
                )
                self._db.executemany(
                    "UPDATE series_groups SET updated_at = ? WHERE source = ? AND grp = ?", touched
                )
        except sqlite3.Error:
            self._unsynced.add(source)
            raise
        self._unsynced.discard(source)

    def expire(self, now: float) -> int:
        """Drop groups older than their source's ``stale_after``; return how many went."""
        dropped: list[tuple[str, str]] = []
        for source, groups in self._groups.items():
            limit = self._stale_after.get(source, float("inf"))
            for key in [k for k, g in groups.items() if now - g.updated_at > limit]:
                del groups[key]
                dropped.append((source, key))
                self._dropped(source, key, now)
        if dropped and self._db is not None:
            with transaction(self._db):
                self._db.executemany(
                    "DELETE FROM series_groups WHERE source = ? AND grp = ?", dropped
                )
        return len(dropped)

    def series(self) -> Iterator[Series]:
        """Every current series."""
        for groups in list(self._groups.values()):
            for group in list(groups.values()):
                yield from group.series

    def groups(self) -> Iterator[tuple[str, str, tuple[Series, ...], int]]:
        """Every (source, group, series, generation) in /metrics order.

        A group keeps the same series tuple (and generation) while a poll reads the same
        series, so a reader may cache what it derived from a tuple and reuse it while the group
        holds it (``watcher.exposition`` does).
        """
        for source, groups in list(self._groups.items()):
            for key, g in list(groups.items()):
                yield source, key, g.series, g.generation

    def help_texts(self) -> dict[str, str]:
        """The HELP texts set with ``describe``, by metric name."""
        return dict(self._help)

    def snapshot(self, now: float, extra: Iterable[Series] = ()) -> Snapshot:
        """One consistent view: every series (after expiry) plus ``extra`` (self-metrics)."""
        self.expire(now)
        return Snapshot.of(now, [*self.series(), *extra])

    def __len__(self) -> int:
        return sum(len(g.series) for groups in self._groups.values() for g in groups.values())


def _dump(series: Sequence[Series]) -> str:
    return json.dumps([[s.name, dict(s.labels), s.value] for s in series])


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
            metric = Metric(name, self._store.help_text(name), "gauge")
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
            out.append(Series(sample.name, dict(sample.labels), float(sample.value)))
    return out
