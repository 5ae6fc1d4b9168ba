"""A source's state as the status page and the API show it: plain values, no config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source as the status page shows it."""

    name: str
    type: str
    interval: float
    polls: int
    last_poll_at: float | None
    last_success_at: float | None
    last_error: str | None
    #: status -> coupon id -> remark (Mega Coupon sources only)
    remarks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
