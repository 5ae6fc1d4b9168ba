"""HA replicas split a key's request budget: each spaces N x wider, offset by its index."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from watcher.clock import FakeClock
from watcher.ratelimit import FileBook, LimiterRegistry, Share

SPACING = 2.2  # the CoinW coupon key's spacing (2 s plus a margin)


async def _take(registry: LimiterRegistry, clock: FakeClock, n: int, out: list[float]) -> None:
    limiter = registry.get("key", "/p", SPACING, upstream="u")
    for _ in range(n):
        await limiter.acquire()
        out.append(clock.time())


def _gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [round(b - a, 6) for a, b in itertools.pairwise(ordered)]


def _each(gap: float, n: int) -> list[float]:
    return [round(gap, 6)] * n


async def test_two_replicas_interleave_at_the_single_limit(clock: FakeClock) -> None:
    """Replicas 0 and 1 (separate books, as in two pods) take alternate slots: together one
    request per spacing, each one per 2 x spacing."""
    a: list[float] = []
    b: list[float] = []
    await asyncio.gather(
        _take(LimiterRegistry(clock, share=Share(2, 0)), clock, 5, a),
        _take(LimiterRegistry(clock, share=Share(2, 1)), clock, 5, b),
    )
    assert _each(2 * SPACING, 4) == _gaps(a)
    assert _each(2 * SPACING, 4) == _gaps(b)
    assert _each(SPACING, 9) == _gaps(a + b)


async def test_offsets_hold_whenever_each_replica_starts(clock: FakeClock) -> None:
    """The grid is wall-clock time, so a replica started later still lands between the other's
    requests, never closer than the spacing."""
    a: list[float] = []
    b: list[float] = []
    first = asyncio.create_task(_take(LimiterRegistry(clock, share=Share(2, 0)), clock, 6, a))
    await clock.sleep(3.7)  # the second pod comes up later, at an arbitrary moment
    await _take(LimiterRegistry(clock, share=Share(2, 1)), clock, 4, b)
    await first
    assert min(_gaps(a + b)) >= SPACING - 1e-6
    assert _each(2 * SPACING, 3) == _gaps(b)


async def test_a_replica_alone_keeps_its_share(clock: FakeClock) -> None:
    """The split is static: with the other replica down, one replica still waits 2 x spacing."""
    a: list[float] = []
    await _take(LimiterRegistry(clock, share=Share(2, 1)), clock, 4, a)
    assert _each(2 * SPACING, 3) == _gaps(a)


async def test_three_replicas_space_three_times_wider(clock: FakeClock) -> None:
    """N replicas: each waits N x spacing, offset by index x spacing."""
    times: list[list[float]] = [[], [], []]
    await asyncio.gather(
        *(_take(LimiterRegistry(clock, share=Share(3, i)), clock, 3, times[i]) for i in range(3))
    )
    for own in times:
        assert _each(3 * SPACING, 2) == _gaps(own)
    assert _each(SPACING, 8) == _gaps([t for own in times for t in own])
    phases = {round((own[0] - times[0][0]) % (3 * SPACING), 6) for own in times}
    assert {0.0, round(SPACING, 6), round(2 * SPACING, 6)} == phases


async def test_replicas_on_one_machine_sharing_a_book_still_interleave(tmp_path: Path) -> None:
    """One book file for both replicas (one machine): each keeps its own grid entry, so they
    interleave at the full rate instead of queueing behind each other's next free slot."""
    clock = FakeClock()
    path = str(tmp_path / "book.db")
    a: list[float] = []
    b: list[float] = []
    await asyncio.gather(
        _take(LimiterRegistry(clock, FileBook(path), share=Share(2, 0)), clock, 4, a),
        _take(LimiterRegistry(clock, FileBook(path), share=Share(2, 1)), clock, 4, b),
    )
    assert _each(SPACING, 7) == _gaps(a + b)


async def test_a_penalty_is_honoured_then_the_grid_resumes(clock: FakeClock) -> None:
    """After a rate-limit answer the replica waits the pause, then sends on its own grid."""
    limiter = LimiterRegistry(clock, share=Share(2, 1)).get("key", "/p", SPACING)
    await limiter.acquire()
    start = clock.time()
    assert 10.0 == limiter.rate_limited()
    await limiter.acquire()
    after = clock.time()
    assert after >= start + 10.0
    phase = (after - SPACING) % (2 * SPACING)
    assert min(phase, 2 * SPACING - phase) == pytest.approx(0.0, abs=1e-6)
    assert after - (start + 10.0) < 2 * SPACING
    assert limiter.next_slot_in == pytest.approx(2 * SPACING)


def test_an_index_outside_the_replicas_is_refused() -> None:
    """Share(2, 2) is a programming error, not a silent overlap."""
    with pytest.raises(ValueError, match=r"replica index 2 is not in 0\.\.1"):
        Share(2, 2)


class _SlowWaker(FakeClock):
    """A clock whose next ``times`` sleeps overrun: an event loop busy elsewhere wakes late."""

    def __init__(self, overrun: float, times: int = 1) -> None:
        super().__init__()
        self.overrun = overrun
        self.times = times

    async def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.times > 0:
            self.times -= 1
            seconds += self.overrun
        await super().sleep(seconds)


async def test_a_slot_woken_up_for_too_late_is_skipped() -> None:
    """Woken 0.5 s past its slot, a replica takes its next own slot instead of sending into the
    other replica's slot."""
    clock = _SlowWaker(overrun=0.5)
    limiter = LimiterRegistry(clock, share=Share(2, 1)).get("key", "/p", SPACING)
    await limiter.acquire()
    offset = (clock.time() - SPACING) % (2 * SPACING)
    assert offset == pytest.approx(0.0, abs=1e-6)


async def test_a_small_wake_up_delay_still_sends() -> None:
    """Late by less than 5% of the spacing (0.05 s of 2.2 s): the slot is used, not skipped."""
    clock = _SlowWaker(overrun=0.05)
    limiter = LimiterRegistry(clock, share=Share(2, 0)).get("key", "/p", SPACING)
    start = clock.time()
    await limiter.acquire()
    assert clock.time() - Share(2, 0).align(start, SPACING) == pytest.approx(0.05)


async def test_a_replica_always_late_still_sends() -> None:
    """A starved process late for every slot sends after three late wake-ups, not never."""
    clock = _SlowWaker(overrun=0.5, times=100)
    limiter = LimiterRegistry(clock, share=Share(2, 1)).get("key", "/p", SPACING)
    await asyncio.wait_for(limiter.acquire(), timeout=5)
    assert 3 == len([s for s in clock.sleeps if s > 0])
