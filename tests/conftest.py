"""Shared fixtures: zero retry waits, a fake clock, an HTTP session, helpers to write config files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e import Simulator
from watcher.clock import FakeClock
from watcher.ratelimit import BOOK_ENV
from watcher.retry import set_testing


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    set_testing(True)
    yield
    set_testing(False)


@pytest.fixture(autouse=True)
def _own_rate_limit_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test (and every daemon it starts) gets its own shared slot book: the machine-wide
    one would let one test's rate-limit penalties slow the next test that reuses a port."""
    monkeypatch.setenv(BOOK_ENV, str(tmp_path / "rate-limits.db"))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The simulator of every upstream, served on 127.0.0.1 in the test's loop."""
    s = Simulator()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session, closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when told to (or when slept on)."""
    return FakeClock()


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """Write a file under tmp_path and return its path."""
    return Writer(tmp_path)


class Writer:
    """Writes test files into one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
