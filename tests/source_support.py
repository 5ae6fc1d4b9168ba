"""Shared pieces of the source tests: a Mega Coupon source built from a few keys."""

from __future__ import annotations

from typing import Any

import aiohttp

from watcher.clock import FakeClock
from watcher.config.model import CoinwCouponConfig, Secret
from watcher.ratelimit import LimiterRegistry
from watcher.sources.coinw_coupon import CouponSource


def coupon_source(
    session: aiohttp.ClientSession,
    clock: FakeClock,
    base_url: str,
    *,
    api_key: str,
    secret_key: str,
    name: str = "c",
    **config: Any,
) -> CouponSource:
    """A ``coinw_mega_coupon`` source polling ``base_url`` with its own rate limiters on
    ``clock``; ``config`` sets CoinwCouponConfig's other fields (statuses, push, ...)."""
    cfg = CoinwCouponConfig(
        name=name,
        type="coinw_mega_coupon",
        base_url=base_url,
        api_key=Secret(api_key),
        secret_key=Secret(secret_key),
        **config,
    )
    return CouponSource(cfg, session, LimiterRegistry(clock), clock)
