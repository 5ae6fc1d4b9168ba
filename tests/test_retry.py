"""The one retry helper: a policy built once, bare first attempts, tenacity semantics on failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest
from structlog.testing import capture_logs

from watcher.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after, retry_async, set_testing


class FlakyError(Exception):
    """A retryable failure."""


class PermanentError(FlakyError):
    """A failure the policy refuses to retry."""


class UpstreamError(FlakyError):
    """A failure carrying a Retry-After hint."""

    def __init__(self, after: float) -> None:
        super().__init__(f"retry after {after}")
        self.after = after


def script(*outcomes: BaseException | str) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call answering ``outcomes`` in turn (raising the exceptions); counts its calls."""
    calls: list[int] = []
    it: Iterator[BaseException | str] = iter(outcomes)

    async def call() -> str:
        calls.append(1)
        out = next(it)
        if isinstance(out, BaseException):
            raise out
        return out

    return call, calls


@pytest.fixture
def waits() -> Iterator[list[float]]:
    """Real backoff (not zeroed), slept on a recording fake."""
    set_testing(False)
    yield []
    set_testing(True)


def policy(waits: list[float], **kw: object) -> RetryPolicy:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return RetryPolicy(
        on=(FlakyError,),
        sleep=sleep,
        retryable=lambda e: not isinstance(e, PermanentError),
        hint=lambda e: e.after if isinstance(e, UpstreamError) else None,
        jitter=0.0,
        **kw,  # type: ignore[arg-type]
    )


async def test_success_first_time_calls_once_and_never_sleeps(waits: list[float]) -> None:
    """A call that works is awaited once: no retry, no wait, no retry log."""
    call, calls = script("ok")
    retried: list[BaseException] = []
    with capture_logs() as logs:
        assert "ok" == await policy(waits)(call, retried.append)
    assert ([1], [], [], []) == (calls, waits, retried, logs)


async def test_failures_are_retried_with_exponential_backoff(waits: list[float]) -> None:
    """Two failures then success: three calls, waits 0.5 s then 1 s, each retry counted and logged."""
    call, calls = script(FlakyError("a"), FlakyError("b"), "ok")
    retried: list[BaseException] = []
    with capture_logs() as logs:
        assert "ok" == await policy(waits, attempts=3)(call, retried.append)
    assert 3 == len(calls)
    assert [0.5, 1.0] == waits
    assert ["a", "b"] == [str(e) for e in retried]
    assert [1, 2] == [e["attempt"] for e in logs if e["event"] == "retry.scheduled"]


async def test_gives_up_after_attempts_with_the_last_error(waits: list[float]) -> None:
    """Every attempt failing re-raises the last error after ``attempts`` calls."""
    call, calls = script(FlakyError("a"), FlakyError("b"), FlakyError("c"))
    with pytest.raises(FlakyError, match=r"^c$"):
        await policy(waits, attempts=3)(call)
    assert (3, [0.5, 1.0]) == (len(calls), waits)


async def test_permanent_and_foreign_errors_are_not_retried(waits: list[float]) -> None:
    """An error the policy refuses, or of another type, surfaces after one call."""
    for error in (PermanentError("no"), ValueError("bug"), asyncio.CancelledError()):
        call, calls = script(error)
        with pytest.raises(type(error)):
            await policy(waits)(call)
        assert [1] == calls
    assert [] == waits


async def test_retry_after_hint_replaces_backoff_and_a_long_one_stops(waits: list[float]) -> None:
    """A short Retry-After is waited instead of the backoff; one above ``maximum`` ends retries."""
    call, calls = script(UpstreamError(3.0), "ok")
    assert "ok" == await policy(waits, maximum=10.0)(call)
    assert [3.0] == waits
    call, calls = script(UpstreamError(60.0), "ok")
    with pytest.raises(UpstreamError):
        await policy(waits, maximum=10.0)(call)
    assert ([1], [3.0]) == (calls, waits)


async def test_one_policy_serves_concurrent_calls(waits: list[float]) -> None:
    """Eight concurrent calls through one policy keep their own attempt counts."""
    shared = policy(waits, attempts=2)
    scripts = [script(FlakyError(str(i)), f"ok{i}") for i in range(8)]
    results = await asyncio.gather(*(shared(call) for call, _ in scripts))
    assert [f"ok{i}" for i in range(8)] == results
    assert [2] * 8 == [len(calls) for _, calls in scripts]


async def test_retry_async_is_the_same_policy_in_one_call() -> None:
    """The one-shot helper retries like a policy (waits zeroed under test)."""
    call, calls = script(FlakyError("a"), "ok")
    assert "ok" == await retry_async(call, on=(FlakyError,), attempts=2)
    assert 2 == len(calls)


NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("2.5", 2.5),
        ("0", 0.0),
        ("Tue, 14 Nov 2023 22:15:20 GMT", 120.0),  # an HTTP-date two minutes on
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # one already past: go now
        ("inf", MAX_RETRY_AFTER),
        ("99999999999", MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("-5", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_and_bounded(header: str | None, seconds: float | None) -> None:
    """Delay-seconds or an HTTP-date, never more than 8 h; what is unreadable is no hint."""
    assert seconds == parse_retry_after(header, NOW)
