"""What the CoinW REST sources share: one API key, its signer, its limiter and its back-off.

Every request on a key, REST or WebSocket, takes the key's limiter slots; a rate-limit answer
pauses the key (longer on each repeat, docs/upstream-apis.md "Limits"), a success ends the steps.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
import structlog

from watcher.clock import Clock
from watcher.config.model import CoinwCouponConfig, CoinwInviteeConfig
from watcher.errors import RateLimitedError, SourceError
from watcher.ratelimit import Limiter, LimiterRegistry
from watcher.sources.base import PollResult, UpstreamSource
from watcher.sources.coinw_sign import CoinwSigner

log = structlog.get_logger()

T = TypeVar("T")
CoinwConfigT = TypeVar("CoinwConfigT", bound=CoinwCouponConfig | CoinwInviteeConfig)


class CoinwKeySource(UpstreamSource[CoinwConfigT]):
    """A source reading ``path`` with one CoinW API key, at most one request per ``spacing`` s."""

    def __init__(
        self,
        config: CoinwConfigT,
        session: aiohttp.ClientSession,
        limiters: LimiterRegistry,
        clock: Clock,
        *,
        path: str,
        spacing: float,
    ) -> None:
        super().__init__(
            config,
            session,
            clock,
            path=path,
            secrets=(config.api_key.get(), config.secret_key.get()),
        )
        self._signer = CoinwSigner(config.api_key, config.secret_key)
        self._limiter: Limiter = limiters.get(
            config.api_key.get(), path, spacing, upstream=config.base_url
        )

    @property
    def limiter(self) -> Limiter:
        """The key's limiter: every request on the key, REST or WebSocket, takes its slots."""
        return self._limiter

    async def read(self, reading: Awaitable[T], result: PollResult) -> T | None:
        """``reading``'s value, or None after recording its SourceError in ``result``.

        A rate-limit answer also pauses the key; a read that went through ends the back-off steps.
        """
        try:
            value = await reading
        except RateLimitedError as exc:
            wait = self._limiter.rate_limited(exc.retry_after)
            log.warning("source.rate_limited", source=self._config.name, backoff_seconds=wait)
            result.errors.append(exc)
            return None
        except SourceError as exc:
            result.errors.append(exc)
            return None
        self._limiter.succeeded()
        return value
