"""``time_intervals`` / ``mute_time_intervals``: named intervals routes mute or activate on.

Both top-level lists take Alertmanager's shape (``name`` plus ``time_intervals`` entries);
a name may be defined once across the two, as upstream. Parsing is ``watcher.timeinterval``.
"""

from __future__ import annotations

from collections.abc import Mapping

from watcher.config.reader import Reader
from watcher.timeinterval import TimeInterval, parse_interval


def read_time_intervals(r: Reader) -> dict[str, tuple[TimeInterval, ...]]:
    """Every named interval; problems (with file, line and key) go to ``r``."""
    out: dict[str, tuple[TimeInterval, ...]] = {}
    for key in ("time_intervals", "mute_time_intervals"):
        for i, _ in enumerate(r.seq((key,))):
            p = (key, i)
            if not r.mapping(p, {"name", "time_intervals"}, required=True):
                continue
            name = str(r.string((*p, "name")))
            if name in out:
                r.problem((*p, "name"), f'time interval "{name}" is not unique')
                continue
            entries: list[TimeInterval] = []
            for j, entry in enumerate(r.seq((*p, "time_intervals"))):
                where = (*p, "time_intervals", j)
                if not isinstance(entry, Mapping):
                    r.problem(where, "expected a mapping")
                    continue
                try:
                    entries.append(parse_interval(entry))
                except ValueError as exc:
                    r.problem(where, str(exc))
            out[name] = tuple(entries)
    return out
