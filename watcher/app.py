"""The daemon's lifecycle: sources polling, rules evaluating, notifications, reloads.

Follows aiohttp's documented pattern: each long-running loop lives in a ``cleanup_ctx`` that
starts it, yields, then cancels and awaits it; shared objects sit under typed ``AppKey``s.
Data flows sources -> store -> one snapshot -> rules -> dispatcher -> receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TextIO

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from watcher.alerts import Alert
from watcher.clock import Clock, SystemClock
from watcher.config import Config, SourceConfig, load_config
from watcher.errors import ConfigError
from watcher.history import Retention
from watcher.history.disk import open_history
from watcher.metrics import WatcherMetrics
from watcher.notify import Dispatcher
from watcher.ratelimit import (
    FileBook,
    LimiterRegistry,
    MemoryBook,
    Share,
    SlotBook,
    shared_book,
)
from watcher.rules import RuleGroup, RuleManager, load_rule_files
from watcher.series import Snapshot
from watcher.server.guard import MAX_BODY
from watcher.server.metrics import metrics_handler
from watcher.server.routes import add_routes
from watcher.sources import build_source
from watcher.sources.coinw_push import push_loop
from watcher.sources.runner import SourceRunner
from watcher.sources.status import SourceStatus
from watcher.state import open_state
from watcher.store import SeriesStore, StoreCollector, registry_series
from watcher.waits import cancel_and_wait
from watcher.webconfig import WebState, load_web_config

log = structlog.get_logger()

#: How long SIGTERM waits for queued notifications to go out before exiting.
DRAIN_TIMEOUT = 10.0
#: How long a crashed background loop waits before it is started again.
RESTART_DELAY = 1.0


class _RegistryCollector(Collector):
    """Expose one registry's metrics through another."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        """Everything ``registry`` collects."""
        yield from self._registry.collect()


class Daemon:
    """Owns the config, the store, the sources' runners, the rules and the dispatcher.

    Construct it inside the running event loop (it opens the HTTP client session).
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        console: TextIO = sys.stdout,
        env: Mapping[str, str] | None = None,
        storage_path: str | None = None,
        deliver: bool = True,
        adjust: Callable[[Config], Config] | None = None,
        web_state: WebState | None = None,
        slot_book: SlotBook | None = None,
    ) -> None:
        self.config = config
        #: TLS, basic auth and headers (``server.web_config_file``); re-read on every reload.
        self.web = web_state or WebState(load_web_config(config.server.web_config_file))
        #: False for `watcher once` without --send: alerts are evaluated, never handed on.
        self.deliver = deliver
        #: Applied to every config read on reload too (the demo's --slack-url).
        self._adjust = adjust or (lambda c: c)
        self.clock = clock or SystemClock()
        self.env = env
        # Prometheus ignores *_created samples by default; they only add noise to /metrics.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.self_registry = CollectorRegistry(auto_describe=True)
        self.metrics = WatcherMetrics(self.self_registry)
        groups = load_rule_files(config.rule_paths())
        self.state = open_state(config.file, storage_path or config.storage.path, self.metrics)
        self.db = self.state.db
        if self.state.moved_aside is not None:
            self.metrics.state_corruptions.inc()
        self.store = SeriesStore(self.db)
        # samples over time for range vectors, offset and the query API, appended on every
        # store write (stale markers when a group goes) and every evaluation (self-metrics)
        self.history = open_history(
            self.db,
            self.state.path,
            self.metrics,
            self._retention(groups),
            config.storage.max_samples_in_memory,
        )
        self.store.subscribe(self.history.record)
        self.store.subscribe_drops(self.history.drop)
        for source in config.sources:
            self.store.configure(source.name, source.stale_after)
        self.store.restore([s.name for s in config.sources], self.clock.time())
        # what the rules read back goes to memory at once; the rest is read when queried
        self.history.load(self.clock.time(), Retention.of(groups).longest_ms)
        for source_name, group, series, _ in self.store.groups():
            self.history.seed_group(source_name, group, series)
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_RegistryCollector(self.self_registry))
        self.registry.register(StoreCollector(self.store))
        # Injected clocks (tests) keep their slots in memory; the real clock shares the
        # machine-wide book with every other watcher process.
        if slot_book is None:
            slot_book = shared_book() if clock is None else MemoryBook()
        self._slot_book = slot_book
        ha = config.ha  # read at start only: a change needs a restart, as server and storage
        share = Share(ha.replicas, ha.index) if ha is not None and ha.shares else None
        self.limiters = LimiterRegistry(self.clock, slot_book, share=share)
        if ha is not None:
            info = {"replica": ha.replica, "index": str(ha.index), "replicas": str(ha.replicas)}
            self.metrics.ha_replica_info.labels(**info).set(1)
        self.runners: dict[str, SourceRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._eval_lock = asyncio.Lock()
        self._reload_lock = asyncio.Lock()
        self.last_alerts: list[Alert] = []
        self.rules = RuleManager(
            groups,
            metrics=self.metrics,
            external_labels=config.global_.external_labels,
            external_url=config.global_.external_url,
            db=self.db,
            evaluation_interval=config.global_.evaluation_interval,
        )
        self.rules.history = self.history
        self._session = aiohttp.ClientSession(headers={"User-Agent": "watcher"})
        self.dispatcher = Dispatcher(
            config,
            db=self.db,
            metrics=self.metrics,
            session=self._session,
            clock=self.clock,
            console=console,
        )
        self.metrics.config_last_reload_successful.set(1)
        self.metrics.config_last_reload_success_timestamp.set(self.clock.time())

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every source's poll loop (and the sample writer)."""
        if self.history.disk is not None:
            self.history.disk.start()
        for source in self.config.sources:
            self._start_source(source)

    def make_runners(self) -> None:
        """Build the runners without starting their loops (``watcher once``)."""
        for source in self.config.sources:
            self._make_runner(source)

    async def stop(self) -> None:
        """Cancel every poll loop, deliver what is due, then close the session and database."""
        await cancel_and_wait(*self._tasks.values())
        self._tasks.clear()
        if self.deliver:
            await self.dispatcher.drain(DRAIN_TIMEOUT)
        await self._session.close()
        if self.history.disk is not None:
            await asyncio.to_thread(self.history.disk.close)
        self.state.close()
        if isinstance(self._slot_book, FileBook):
            self._slot_book.close()

    def _make_runner(self, config: SourceConfig) -> SourceRunner:
        source = build_source(config, self._session, self.limiters, self.clock)
        runner = SourceRunner(source, self.store, self.metrics, self.clock, on_poll=self.evaluate)
        self.runners[config.name] = runner
        return runner

    def _start_source(self, config: SourceConfig) -> None:
        runner = self._make_runner(config)
        self._tasks[config.name] = asyncio.create_task(
            self.supervise(f"source:{config.name}", runner.run), name=f"source:{config.name}"
        )
        push = push_loop(
            runner.source, self._session, self.store, self.metrics, self.clock, self.evaluate
        )
        if push is not None:  # the source's WebSocket (issue 15), stopped with the source
            loop = f"push:{config.name}"
            self._tasks[loop] = asyncio.create_task(self.supervise(loop, push), name=loop)

    async def supervise(self, loop: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop forever: a crash is logged, counted and the loop restarted."""
        while True:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.metrics.loop_crashes.labels(loop=loop).inc()
                log.exception("watcher.loop_crashed", loop=loop)
            else:
                return
            await self.clock.sleep(RESTART_DELAY)

    async def _stop_source(self, name: str) -> None:
        tasks = [
            t for t in (self._tasks.pop(name, None), self._tasks.pop(f"push:{name}", None)) if t
        ]
        await cancel_and_wait(*tasks)
        self.runners.pop(name, None)

    def sources(self) -> list[SourceStatus]:
        """Every running source's state (the status page's view)."""
        return [r.status() for r in self.runners.values()]

    @property
    def ready(self) -> bool:
        """True once every source has been polled at least once."""
        return all(r.polls > 0 for r in self.runners.values())

    # -- rules --------------------------------------------------------------------------------

    def snapshot(self, *, rule_series: bool = True) -> Snapshot:
        """One consistent view of every series, the self-metrics included, and the rules' own
        series (recording rules, ALERTS) unless ``rule_series`` is False (the rules' input)."""
        now = self.clock.time()
        extra = registry_series(self.self_registry.collect())
        if rule_series:
            extra += self.rules.series(now)
        return self.store.snapshot(now, extra)

    def _retention(self, groups: list[RuleGroup]) -> Retention:
        return Retention.of(groups, round(self.config.storage.retention * 1000))

    async def evaluate(self) -> None:
        """Evaluate the rules over one snapshot and hand the alerts to notification."""
        async with self._eval_lock:
            now = self.clock.time()
            own = registry_series(self.self_registry.collect())
            # the self-metrics are sampled at every evaluation, as a scrape of the watcher
            # would, so rate(watcher_source_errors_total[5m]) reads them
            self.history.record("", "watcher", own, now)
            snapshot = self.store.snapshot(now, own)
            self.last_alerts = self.rules.evaluate(snapshot)
            if self.deliver:
                await self.dispatcher.send(self.last_alerts, snapshot.time)

    async def evaluation_loop(self) -> None:
        """Evaluate every ``global.evaluation_interval`` (polls trigger extra evaluations)."""
        while True:
            await self.clock.sleep(self.config.global_.evaluation_interval)
            try:
                await self.evaluate()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.metrics.loop_crashes.labels(loop="rules").inc()
                log.exception("rules.evaluation_crashed")

    # -- reload -------------------------------------------------------------------------------

    async def reload(self) -> list[str]:
        """Re-read the config and rule files; apply them if valid, else keep the old ones.

        Returns the problems found (none when the reload applied); they never hold secrets.
        Reloads are serialized: SIGHUP and ``POST /-/reload`` at once run one after the other,
        so no source ever has two poll loops.
        """
        async with self._reload_lock:
            return await self._reload()

    async def _reload(self) -> list[str]:
        try:
            new = self._adjust(load_config(self.config.file, self.env))
            groups: list[RuleGroup] = load_rule_files(new.rule_paths())
            web_config = load_web_config(new.server.web_config_file)
        except ConfigError as exc:
            self.metrics.config_last_reload_successful.set(0)
            for problem in exc.problems:
                log.error("config.reload_failed", problem=problem)
            return exc.problems
        except Exception as exc:  # a loader bug must not take the running config down
            self.metrics.config_last_reload_successful.set(0)
            problem = f"{self.config.file}: {type(exc).__name__}"
            log.exception("config.reload_failed", problem=problem)
            return [problem]
        if (new.server.host, new.server.port) != (self.config.server.host, self.config.server.port):
            log.warning("config.restart_needed", section="server")
        if new.storage != self.config.storage:
            log.warning("config.restart_needed", section="storage")
        if new.ha != self.config.ha:
            log.warning("config.restart_needed", section="ha")
        self.web.apply(web_config)
        old = {s.name: s for s in self.config.sources}
        fresh = {s.name: s for s in new.sources}
        for name, cfg in old.items():
            if fresh.get(name) != cfg:
                await self._stop_source(name)
                if name not in fresh:
                    self.store.remove_source(name, self.clock.time())
                    self.metrics.forget_source(name)
        self.config = new
        for name, cfg in fresh.items():
            if old.get(name) != cfg:
                self._start_source(cfg)
        self.rules.external_labels = dict(new.global_.external_labels)
        self.rules.external_url = new.global_.external_url
        self.rules.evaluation_interval = new.global_.evaluation_interval
        self.rules.replace_groups(groups)
        self.history.set_retention(self._retention(groups))
        self.dispatcher.reload(new)
        self.metrics.config_last_reload_successful.set(1)
        self.metrics.config_last_reload_success_timestamp.set(self.clock.time())
        log.info("config.reloaded", sources=len(new.sources), rule_groups=len(groups))
        return []


DAEMON: web.AppKey[Daemon] = web.AppKey("daemon", Daemon)


def build_app(daemon: Daemon) -> web.Application:
    """The aiohttp application: HTTP routes plus every background loop as a cleanup_ctx."""
    app = web.Application(client_max_size=MAX_BODY)
    app[DAEMON] = daemon
    add_routes(app, daemon, metrics_handler(daemon.store, daemon.self_registry, daemon.registry))
    app.cleanup_ctx.append(_daemon_ctx)
    app.cleanup_ctx.append(_sighup_ctx)
    return app


async def _daemon_ctx(app: web.Application) -> AsyncIterator[None]:
    daemon = app[DAEMON]
    await daemon.start()
    evaluator = asyncio.create_task(daemon.supervise("rules", daemon.evaluation_loop), name="rules")
    notifier = asyncio.create_task(daemon.supervise("notify", daemon.dispatcher.run), name="notify")
    log.info("watcher.started", sources=len(daemon.config.sources))
    yield
    await cancel_and_wait(evaluator, notifier)
    await daemon.stop()
    log.info("watcher.stopped")


async def _sighup_ctx(app: web.Application) -> AsyncIterator[None]:
    daemon = app[DAEMON]
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[list[str]]] = set()

    def on_hup() -> None:
        task = loop.create_task(daemon.reload(), name="reload")
        pending.add(task)
        task.add_done_callback(pending.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    yield
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.remove_signal_handler(signal.SIGHUP)
    await asyncio.gather(*pending, return_exceptions=True)
