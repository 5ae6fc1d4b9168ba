"""Time, injected: production uses the wall clock, tests advance a fake one."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

_IDLE_ROUNDS = 3  # loop iterations with nothing to run before fake time moves


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for intervals, and a sleep that honours both."""

    def time(self) -> float:
        """Unix seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Unix seconds."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves when told to (``advance``), or when every task is waiting on it.

    ``sleep`` registers a waiter; a driver moves time to the earliest waiter only once the event
    loop has had nothing else to run for a few whole iterations (each of which polls the
    sockets), so fake time never runs ahead of I/O between tasks of the same loop: a request to a
    local server completes before a timeout in fake time can fire. This is the idea of the
    ``looptime`` pytest plugin, applied to the injected clock only.

    A test whose peer is another process (its answer arrives while this loop looks idle) passes
    ``auto_advance=False``: then only ``advance`` moves time.
    """

    def __init__(self, start: float = 1_700_000_000.0, *, auto_advance: bool = True) -> None:
        self._auto = auto_advance
        self._now = start
        self._mono = 0.0
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []  # a heap by deadline
        self._seq = itertools.count()
        self._driver: asyncio.Handle | None = None
        self._driver_loop: asyncio.AbstractEventLoop | None = None
        self._idle_rounds = 0

    def time(self) -> float:
        """Fake Unix seconds."""
        return self._now

    def monotonic(self) -> float:
        """Fake monotonic seconds."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward and wake the sleepers that are due."""
        self._now += seconds
        self._mono += seconds
        while self._waiters and self._waiters[0][0] <= self._mono:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():
                waiter.set_result(None)

    async def sleep(self, seconds: float) -> None:
        """Record the sleep and wait until fake time has moved ``seconds`` on."""
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (self._mono + seconds, next(self._seq), waiter))
        if self._auto and (self._driver is None or self._driver_loop is not loop):
            self._idle_rounds = 0
            self._driver_loop = loop
            self._driver = loop.call_soon(self._drive, loop)
        await waiter

    def _drive(self, loop: asyncio.AbstractEventLoop) -> None:
        self._driver = None
        while self._waiters and self._waiters[0][2].done():  # cancelled sleeps
            heapq.heappop(self._waiters)
        if not self._waiters:
            return
        # The loop runs the handles it found ready; more of them queued behind this one mean
        # some task still has work. An I/O event shows up here one iteration after its write.
        if getattr(loop, "_ready", ()):
            self._idle_rounds = 0
        else:
            self._idle_rounds += 1
            if self._idle_rounds >= _IDLE_ROUNDS:
                self._idle_rounds = 0
                self.advance(self._waiters[0][0] - self._mono)
        self._driver = loop.call_soon(self._drive, loop)
