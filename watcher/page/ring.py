"""Recent samples of a few metrics, in memory, for the status page's sparklines.

The store tells the ring of every group it writes (``SeriesStore.subscribe``); the ring keeps
the last ``size`` values of each series whose name it watches. Bounded twice: values per
series and series in all (120 values x 1,000 series: 2.6 MB measured). It is lost on restart: it
draws a picture, nothing decides on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from watcher.series import Series

LabelKey = tuple[tuple[str, str], ...]

#: The metrics the page draws sparklines of.
WATCHED = frozenset(
    {
        "tradeboss_account_balance",
        "coinw_affiliate_trading_volume",
        "coinw_affiliate_trading_volume_last_day",
        "coinw_affiliate_active_invitees",
    }
)


def label_key(labels: Mapping[str, str]) -> LabelKey:
    """A hashable, order-independent form of a label set."""
    return tuple(sorted(labels.items()))


class _Ring:
    """One series' recent values and when the newest was written."""

    __slots__ = ("last_at", "values")

    def __init__(self, size: int) -> None:
        self.values: deque[float] = deque(maxlen=size)
        self.last_at = float("-inf")


class SampleRing:
    """The last ``size`` values of each watched series (at most ``max_series`` series)."""

    def __init__(
        self, names: Iterable[str] = WATCHED, size: int = 120, max_series: int = 1000
    ) -> None:
        self._names = frozenset(names)
        self._size = size
        self._max_series = max_series
        self._rings: dict[tuple[str, LabelKey], _Ring] = {}

    def record(self, _source: str, _group: str, series: Sequence[Series], now: float) -> None:
        """Append the watched series of one written group (a ``SeriesStore`` listener)."""
        for s in series:
            if s.name not in self._names:
                continue
            key = (s.name, label_key(s.labels))
            ring = self._rings.get(key)
            if ring is None:
                if len(self._rings) >= self._max_series:
                    continue  # bounded: series beyond the cap get no history
                ring = self._rings[key] = _Ring(self._size)
            if ring.values and ring.last_at == now:
                ring.values[-1] = s.value  # the same instant written twice: keep one sample
            else:
                ring.values.append(s.value)
            ring.last_at = now

    def values(self, name: str, labels: Mapping[str, str]) -> tuple[float, ...]:
        """The recent values of one series, oldest first (empty when none were kept)."""
        ring = self._rings.get((name, label_key(labels)))
        return () if ring is None else tuple(ring.values)

    def __len__(self) -> int:
        return len(self._rings)
