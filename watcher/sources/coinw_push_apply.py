"""How a pushed coupon changes the stored status groups of its source.

A push carries whole coupons, not whole statuses, so the store's group of the coupon's status
is kept and only that coupon's series are replaced (``put_groups`` replaces a group whole: the
other coupons must be handed back). A coupon whose status changed leaves its old group. The
count ``coinw_mega_coupons{status}`` follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from watcher.series import Series
from watcher.sources.coinw_coupon import CouponSource

COUNT = "coinw_mega_coupons"


def merge_pushed(
    source: CouponSource, current: Mapping[str, Sequence[Series]], rows: Iterable[Any]
) -> dict[str, list[Series]]:
    """The configured status groups the pushed ``rows`` change, each complete (count first).

    Raises ValueError naming the first invalid coupon (then nothing is changed). Records each
    pushed coupon's remark, and counts the push per changed status in ``source.pushes`` so a
    REST answer already on its way is not stored over it.
    """
    pushed = [source.pushed(row) for row in rows]
    statuses = source.config.statuses
    changed: dict[str, list[Series]] = {}
    for status, cid, series, remark in pushed:
        for key in statuses:
            group = changed[key] if key in changed else list(current.get(key, ()))
            kept = [s for s in group if s.labels.get("coupon_id") != cid]
            if key == status:
                kept.extend(series)
                source.remarks.setdefault(status, {})[cid] = remark
            if kept != group or key == status:
                changed[key] = kept
    for key in changed:
        source.pushes[key] = source.pushes.get(key, 0) + 1
    return {key: _with_count(source, key, series) for key, series in changed.items()}


def _with_count(source: CouponSource, status: str, series: list[Series]) -> list[Series]:
    items = [s for s in series if s.name != COUNT]
    ids = {s.labels.get("coupon_id") for s in items}
    return [source.count_series(status, len(ids)), *items]
