"""Waiting on the injected clock: a bounded await, a pause a wake-up cuts short, and taking
down the tasks a wait leaves behind (cancelled, then awaited, so none outlives its owner)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from watcher.clock import Clock

T = TypeVar("T")


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel ``tasks`` (a finished one stays as it is) and wait until each has ended.

    Their results and errors are dropped: the caller has stopped caring about them.
    """
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def within(clock: Clock, seconds: float, aw: Awaitable[T]) -> T:
    """Await ``aw`` for at most ``seconds`` of ``clock`` time; cancel it and raise
    ``TimeoutError`` after that (``asyncio.timeout`` on the injected clock)."""
    task = asyncio.ensure_future(aw)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(timer, task)
    if task.cancelled():
        raise TimeoutError
    return task.result()


async def pause(clock: Clock, wake: asyncio.Event, delay: float) -> None:
    """Sleep ``delay`` seconds of ``clock`` time, or until ``wake`` is set."""
    if wake.is_set():
        return
    sleeper = asyncio.ensure_future(clock.sleep(delay))
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(sleeper, waiter)
