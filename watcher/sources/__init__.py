"""Sources: one module per upstream API, each with its signer; ``build_source`` picks by type."""

from __future__ import annotations

import aiohttp

from watcher.clock import Clock
from watcher.config.model import CoinwCouponConfig, SourceConfig
from watcher.ratelimit import LimiterRegistry
from watcher.sources.base import PollResult, Source
from watcher.sources.coinw_coupon import CouponSource

__all__ = ["PollResult", "Source", "build_source"]


def build_source(
    config: SourceConfig, session: aiohttp.ClientSession, limiters: LimiterRegistry, clock: Clock
) -> Source:
    """The source implementation for ``config.type``."""
    if isinstance(config, CoinwCouponConfig):
        return CouponSource(config, session, limiters, clock)
    msg = f"source type {config.type!r} is not implemented yet"
    raise NotImplementedError(msg)
