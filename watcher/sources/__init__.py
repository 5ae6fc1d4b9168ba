"""Sources: one module per upstream API, each with its signer; ``build_source`` picks by type."""

from __future__ import annotations

import aiohttp

from watcher.clock import Clock
from watcher.config.model import (
    CoinwCouponConfig,
    CoinwInviteeConfig,
    SourceConfig,
    TradebossConfig,
)
from watcher.ratelimit import LimiterRegistry
from watcher.sources.base import PollResult, Source
from watcher.sources.coinw_coupon import CouponSource
from watcher.sources.coinw_invitee import InviteeSource
from watcher.sources.tradeboss import TradebossSource

__all__ = ["PollResult", "Source", "build_source"]


def build_source(
    config: SourceConfig, session: aiohttp.ClientSession, limiters: LimiterRegistry, clock: Clock
) -> Source:
    """The source implementation for ``config.type``."""
    if isinstance(config, CoinwCouponConfig):
        return CouponSource(config, session, limiters, clock)
    if isinstance(config, CoinwInviteeConfig):
        return InviteeSource(config, session, limiters, clock)
    if isinstance(config, TradebossConfig):
        return TradebossSource(config, session, limiters, clock)
    msg = f"source type {config.type!r} is not implemented yet"
    raise NotImplementedError(msg)
