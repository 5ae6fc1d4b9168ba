"""The poll loop of one source: poll, store, count, and tell the rule engine.

A poll that fails in part or in whole never stops the loop: the failure is logged, counted
in ``watcher_source_errors_total{reason}`` and ``watcher_source_up`` goes to 0; series of the
parts that failed stay until the source's ``stale_after``.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import Awaitable, Callable

import structlog

from watcher.clock import Clock
from watcher.errors import SourceError
from watcher.metrics import WatcherMetrics
from watcher.sources.base import PollResult, Source
from watcher.sources.status import SourceStatus
from watcher.store import Health, SeriesStore

log = structlog.get_logger()

OnPoll = Callable[[], Awaitable[None]]


class SourceRunner:
    """Runs one source every ``interval`` (measured start to start)."""

    def __init__(
        self,
        source: Source,
        store: SeriesStore,
        metrics: WatcherMetrics,
        clock: Clock,
        on_poll: OnPoll | None = None,
    ) -> None:
        self.source = source
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._on_poll = on_poll
        self.polls = 0
        self.last_error: str | None = None
        self.last_poll_at: float | None = None
        self.last_success_at: float | None = None
        name = source.config.name
        metrics.init_source(name)
        store.configure(name, source.config.stale_after)
        for metric, text in source.metric_help().items():
            store.describe(metric, text)
        # What the previous process last saw: until this process's first poll, up and the last
        # success say that (a restart neither fakes a SourceDown nor resolves a SourceStale).
        previous = store.health(name)
        if previous is not None:
            self.last_poll_at = previous.last_poll
            self.last_success_at = previous.last_success
            self.last_error = previous.last_error
            metrics.source_up.labels(source=name).set(1 if previous.up else 0)
            if previous.last_success is not None:
                metrics.source_last_success.labels(source=name).set(previous.last_success)

    def status(self) -> SourceStatus:
        """This source's state, as plain values."""
        config = self.source.config
        remarks = getattr(self.source, "remarks", None) or {}
        return SourceStatus(
            self.name,
            config.type,
            config.interval,
            self.polls,
            self.last_poll_at,
            self.last_success_at,
            self.last_error,
            remarks,
        )

    @property
    def name(self) -> str:
        """The source's name."""
        return self.source.config.name

    async def poll_once(self) -> bool:
        """Poll once, store what was read, update self-metrics; True when fully successful."""
        name = self.name
        started = self._clock.monotonic()
        try:
            result = await self.source.poll()
        except asyncio.CancelledError:
            raise
        except SourceError as exc:
            result = PollResult(errors=[exc])
        except Exception as exc:  # a bug or a shape we did not foresee: keep polling
            log.exception("source.poll_crashed", source=name)
            result = PollResult(
                errors=[SourceError("malformed", f"unexpected {type(exc).__name__}")]
            )
        now = self._clock.time()
        self._metrics.source_poll_duration.labels(source=name).observe(
            self._clock.monotonic() - started
        )
        for err in (*result.retried, *result.errors):
            self._metrics.source_errors.labels(source=name, reason=err.reason).inc()
        if result.skipped_rows:
            self._metrics.source_errors.labels(source=name, reason="invalid_row").inc(
                result.skipped_rows
            )
        ok = not result.errors
        self.polls += 1
        if self.polls == 1:
            # What start-up and a first poll built mostly lives as long as the process: out of
            # the collector's sight, a full collection no longer walks every stored series and
            # stalls the loop for 100+ ms at 100k series (cyclic garbage of that moment stays).
            gc.freeze()
        self.last_poll_at = now
        self._metrics.source_up.labels(source=name).set(1 if ok else 0)
        if ok:
            self.last_error = None
            self.last_success_at = now
            self._metrics.source_last_success.labels(source=name).set(now)
            log.debug("source.polled", source=name, groups=len(result.groups))
        else:
            first = result.errors[0]
            self.last_error = f"{first.reason}: {first}"
            log.warning(
                "source.poll_failed",
                source=name,
                reason=first.reason,
                error=str(first),
                failed_parts=len(result.errors),
                ok_parts=len(result.groups),
            )
        health = Health(ok, now, self.last_success_at, self.last_error)
        try:
            self._store.put_groups(name, result.groups, now, health)
        except sqlite3.Error as exc:  # a full or broken disk: the series stay in memory
            self._metrics.state_write_errors.labels(what="series").inc()
            log.error("state.write_failed", what="series", source=name, error=str(exc))
        try:
            self._store.expire(now)
        except sqlite3.Error as exc:
            self._metrics.state_write_errors.labels(what="series").inc()
            log.error("state.write_failed", what="series", source=name, error=str(exc))
        if self._on_poll is not None:
            try:
                await self._on_poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("source.on_poll_failed", source=name)
        return ok

    async def run(self) -> None:
        """Poll forever, one poll per ``interval``; cancel to stop."""
        interval = self.source.config.interval
        while True:
            started = self._clock.monotonic()
            await self.poll_once()
            elapsed = self._clock.monotonic() - started
            await self._clock.sleep(max(0.0, interval - elapsed))
