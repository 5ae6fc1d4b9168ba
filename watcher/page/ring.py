"""Recent samples of a few metrics, in memory, for the status page's sparklines.

The store tells the ring of every group it writes (``SeriesStore.subscribe``); the ring keeps
the last ``size`` values of each series whose name it watches. Bounded twice: values per
series and series in all. It is lost on restart: it draws a picture, nothing decides on it.
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


class SampleRing:
    """The last ``size`` (time, value) samples of each watched series."""

    def __init__(
        self, names: Iterable[str] = WATCHED, size: int = 120, max_series: int = 2000
    ) -> None:
        self._names = frozenset(names)
        self._size = size
        self._max_series = max_series
        self._rings: dict[tuple[str, LabelKey], deque[tuple[float, float]]] = {}

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
                ring = self._rings[key] = deque(maxlen=self._size)
            if ring and ring[-1][0] == now:
                ring[-1] = (now, s.value)
            else:
                ring.append((now, s.value))

    def values(self, name: str, labels: Mapping[str, str]) -> tuple[float, ...]:
        """The recent values of one series, oldest first (empty when none were kept)."""
        ring = self._rings.get((name, label_key(labels)))
        return () if ring is None else tuple(v for _, v in ring)

    def __len__(self) -> int:
        return len(self._rings)
