"""The per-key limiter: requests on one key never come closer than the spacing."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from watcher.clock import FakeClock
from watcher.ratelimit import PENALTY_READ_EVERY, FileBook, LimiterRegistry


async def test_slots_are_spaced_even_when_requested_together(clock: FakeClock) -> None:
    """Five concurrent acquisitions are granted 2 s apart."""
    limiter = LimiterRegistry(clock).get("key", "/path", 2.0)
    granted: list[float] = []

    async def take() -> None:
        await limiter.acquire()
        granted.append(clock.monotonic())

    await asyncio.gather(*(take() for _ in range(5)))
    assert granted == [0.0, 2.0, 4.0, 6.0, 8.0]


class LateClock(FakeClock):
    """A fake clock whose sleeps overrun by the next of ``overruns`` (then none), as a busy
    event loop's do now and then."""

    def __init__(self, overruns: list[float]) -> None:
        super().__init__()
        self.overruns = overruns

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + (self.overruns.pop(0) if self.overruns else 0.0))


async def test_a_late_wake_up_pushes_the_next_slot_a_whole_spacing_after_it() -> None:
    """A request woken 0.5 s after its slot leaves then: the next one (woken on time) still
    waits 2 s from it, so upstream never sees two requests closer than the spacing."""
    clock = LateClock([0.5])
    limiter = LimiterRegistry(clock).get("key", "/path", 2.0)
    granted: list[float] = []

    async def take() -> None:
        await limiter.acquire()
        granted.append(clock.monotonic())

    await asyncio.gather(*(take() for _ in range(4)))
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert min(gaps) >= 2.0, granted


async def test_sources_sharing_a_key_share_the_limit(clock: FakeClock) -> None:
    """Two sources with one API key get one limiter; another key is independent."""
    registry = LimiterRegistry(clock)
    a, b, other = (
        registry.get("k", "/p", 2.0),
        registry.get("k", "/p", 2.0),
        registry.get("k2", "/p", 2.0),
    )
    assert a is b
    await a.acquire()
    await other.acquire()
    await b.acquire()
    assert clock.monotonic() == 2.0


async def test_no_wait_when_the_last_request_is_old_enough(clock: FakeClock) -> None:
    """A request after a long pause goes at once."""
    limiter = LimiterRegistry(clock).get("k", "/p", 2.0)
    await limiter.acquire()
    clock.advance(10)
    await limiter.acquire()
    assert clock.sleeps == []


async def test_penalize_pushes_the_next_slot(clock: FakeClock) -> None:
    """After upstream's rate-limit answer the next request waits the penalty."""
    limiter = LimiterRegistry(clock).get("k", "/p", 2.0)
    await limiter.acquire()
    limiter.penalize(30)
    await limiter.acquire()
    assert clock.monotonic() == 30.0


def test_the_largest_spacing_wins(clock: FakeClock) -> None:
    """Asking again with a larger spacing never loosens the limit."""
    registry = LimiterRegistry(clock)
    registry.get("k", "/p", 2.5)
    assert registry.get("k", "/p", 2.0).spacing == 2.5


def test_repeated_rate_limits_escalate_and_a_success_resets(clock: FakeClock) -> None:
    """Each consecutive refusal pauses the key longer (10, 30, 60 s ...); a success starts over."""
    limiter = LimiterRegistry(clock).get("k", "/p", 2.0)
    assert [10.0, 30.0, 60.0] == [limiter.rate_limited() for _ in range(3)]
    assert 60.0 == limiter.next_slot_in
    clock.advance(60)
    limiter.succeeded()
    assert 10.0 == limiter.rate_limited()
    assert 45.0 == limiter.rate_limited(retry_after=45.0)  # upstream's hint wins when longer
    assert 45.0 == limiter.next_slot_in


async def test_processes_sharing_the_book_file_share_the_spacing(tmp_path: Path) -> None:
    """A second process (a restart, or `watcher once`) waits for the slot the first one took."""
    clock = FakeClock()
    path = str(tmp_path / "book.db")
    first = LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.2, upstream="u")
    await first.acquire()
    clock.advance(0.5)
    second = LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.2, upstream="u")
    await second.acquire()
    assert [pytest.approx(1.7)] == clock.sleeps
    other_upstream = LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.2, upstream="v")
    await other_upstream.acquire()
    assert 1 == len(clock.sleeps)


def test_strikes_survive_a_restart(tmp_path: Path) -> None:
    """A crash loop that keeps being refused keeps escalating instead of starting over."""
    clock = FakeClock()
    path = str(tmp_path / "book.db")
    assert 10.0 == LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.0).rate_limited()
    assert 30.0 == LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.0).rate_limited()
    again = LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.0)
    assert 30.0 == again.next_slot_in
    again.succeeded()
    assert 10.0 == LimiterRegistry(clock, FileBook(path)).get("k", "/p", 2.0).rate_limited()


async def test_a_penalty_from_another_process_holds_a_key_without_spacing(tmp_path: Path) -> None:
    """A 429 pause booked by another watcher process stops this one's next request too.

    Keys without spacing re-read the shared book at most every ``PENALTY_READ_EVERY`` seconds.
    """
    clock = FakeClock()
    path = str(tmp_path / "book.db")
    ours = LimiterRegistry(clock, FileBook(path)).get("k", "/p", 0.0, upstream="u")
    await ours.acquire()
    assert [] == clock.sleeps
    theirs = LimiterRegistry(clock, FileBook(path)).get("k", "/p", 0.0, upstream="u")
    theirs.penalize(30)
    clock.advance(PENALTY_READ_EVERY)
    await ours.acquire()
    assert [pytest.approx(30 - PENALTY_READ_EVERY)] == clock.sleeps
