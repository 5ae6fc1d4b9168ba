"""Shared fixtures: zero retry waits, a fake clock, helpers to write config files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.clock import FakeClock
from watcher.retry import set_testing


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    set_testing(True)
    yield
    set_testing(False)


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
