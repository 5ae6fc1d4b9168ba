"""Shared benchmark helpers: repeats, min/median/max, and one table format for every bench."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Every figure is measured this many times; the table shows min / median / max.
REPEATS = 3


@dataclass(frozen=True)
class Spread:
    """min / median / max of repeated measurements."""

    low: float
    mid: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise ``values``."""
        return cls(min(values), statistics.median(values), max(values))

    def scaled(self, factor: float) -> Spread:
        """The same spread in other units (seconds to ms: 1e3)."""
        return Spread(self.low * factor, self.mid * factor, self.high * factor)

    def __str__(self) -> str:
        return f"{self.low:.3g}/{self.mid:.3g}/{self.high:.3g}"


def timed(fn: Callable[[], object], repeats: int = REPEATS) -> Spread:
    """Seconds per call of ``fn``, ``repeats`` times."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return Spread.of(out)


def ratio(figure: Spread, baseline: Spread) -> str:
    """Median figure / median baseline."""
    return f"{figure.mid / baseline.mid:.2f}x" if baseline.mid else "n/a"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (Markdown pipe syntax, so it pastes into RESULTS.md)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [f"## {title}", ""]
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"
