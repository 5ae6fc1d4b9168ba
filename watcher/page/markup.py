"""Small HTML builders; every text and attribute value goes through ``esc``."""

from __future__ import annotations

import html
from collections.abc import Sequence

from watcher.page import fmt


def esc(text: object) -> str:
    """Escape ``text`` for element content and quoted attribute values."""
    return html.escape(str(text), quote=True)


def when(ts: float | None, now: float) -> str:
    """A relative instant with the absolute one as its tooltip and machine-readable value."""
    if ts is None:
        return "never"
    return (
        f'<time datetime="{esc(fmt.iso(ts))}" title="{esc(fmt.absolute(ts))}">'
        f"{esc(fmt.relative(ts, now))}</time>"
    )


def when_both(ts: float | None, now: float) -> str:
    """A relative instant followed by the absolute one (for expiries)."""
    if ts is None:
        return "—"
    return (
        f'<time datetime="{esc(fmt.iso(ts))}">{esc(fmt.relative(ts, now))}</time>'
        f"<br><small>{esc(fmt.absolute(ts))}</small>"
    )


def badge(text: str, cls: str) -> str:
    """A coloured label."""
    return f'<span class="badge {esc(cls)}">{esc(text)}</span>'


def sparkline(values: Sequence[float], label: str) -> str:
    """An inline SVG line of ``values`` (nothing for fewer than two)."""
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    step = 100 / (len(values) - 1)

    def y(v: float) -> float:  # 2 (highest) .. 22 (lowest); a constant series sits midway
        return 12.0 if hi == lo else 22 - (v - lo) / (hi - lo) * 20

    points = " ".join(f"{i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    return (
        f'<svg class="spark" viewBox="0 0 100 24" preserveAspectRatio="none" role="img">'
        f"<title>{esc(label)}</title>"
        f'<polyline points="{points}" fill="none" stroke="currentColor" stroke-width="1.5" '
        f'vector-effect="non-scaling-stroke"/></svg>'
    )


def table(cls: str, heads: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A table whose cells carry their column name (phones show rows as cards).

    ``rows`` are (row class, cells); cells are HTML already escaped by the caller.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in heads)
    body = "".join(
        f'<tr class="{esc(row_cls)}">'
        + "".join(
            f'<td data-label="{esc(h)}"><span class="v">{cell}</span></td>'
            for h, cell in zip(heads, cells, strict=True)
        )
        + "</tr>"
        for row_cls, cells in rows
    )
    return f'<table class="rows {esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
