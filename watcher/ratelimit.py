"""Request spacing per API key: upstream limits are per key, so every source sharing a key
shares one limiter (``LimiterRegistry``), whatever each source's ``interval`` says.

A ``Limiter`` hands out slots at least ``spacing`` seconds apart (measured from when each
request is *sent*), and ``penalize`` pushes the next slot out after upstream says we were
too fast.
"""

from __future__ import annotations

import asyncio
import hashlib

from watcher.clock import Clock

#: Pauses after consecutive rate-limit answers on one key: CoinW escalates its own penalties
#: (half quota, 30 s bans, an 8 h blacklist after 10 bans), so we back off harder each time.
BACKOFF_STEPS = (10.0, 30.0, 60.0, 120.0, 300.0)


class Limiter:
    """Grants one request slot per ``spacing`` seconds, first come first served."""

    def __init__(self, spacing: float, clock: Clock) -> None:
        self.spacing = spacing
        self._clock = clock
        self._next = float("-inf")
        self._lock = asyncio.Lock()
        self._strikes = 0

    async def acquire(self) -> None:
        """Wait for the next free slot and take it."""
        async with self._lock:
            now = self._clock.monotonic()
            if now < self._next:
                await self._clock.sleep(self._next - now)
                now = self._clock.monotonic()
            self._next = now + self.spacing

    def penalize(self, seconds: float) -> None:
        """Grant no slot for ``seconds`` from now (after a rate-limit answer)."""
        self._next = max(self._next, self._clock.monotonic() + seconds)

    def rate_limited(self, retry_after: float | None = None) -> float:
        """Upstream refused us for speed: pause the key (longer on each repeat); return the pause."""
        wait = BACKOFF_STEPS[min(self._strikes, len(BACKOFF_STEPS) - 1)]
        if retry_after is not None:
            wait = max(wait, retry_after)
        self._strikes += 1
        self.penalize(wait)
        return wait

    def succeeded(self) -> None:
        """A request on the key went through: the next rate-limit answer starts the steps again."""
        self._strikes = 0

    @property
    def next_slot_in(self) -> float:
        """Seconds until the next slot is free (0 when free now)."""
        return max(0.0, self._next - self._clock.monotonic())


class LimiterRegistry:
    """One ``Limiter`` per (API key, endpoint); keys are hashed so no secret is kept as a dict key."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._limiters: dict[tuple[str, str], Limiter] = {}

    def get(self, api_key: str, endpoint: str, spacing: float) -> Limiter:
        """The limiter shared by every request on ``endpoint`` with ``api_key``."""
        key = (hashlib.sha256(api_key.encode()).hexdigest(), endpoint)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = Limiter(spacing, self._clock)
        limiter.spacing = max(limiter.spacing, spacing)
        return limiter
