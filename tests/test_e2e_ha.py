"""HA with the real engine: two watchers, a two-peer Alertmanager cluster, one page.

Two ``watcher run`` replicas (``ha: {replicas: 2}``, each its own state file and its own
rate-limit book, as two pods) poll the simulator and send the same alerts to both
``prometheus-alertmanager`` peers, clustered over loopback, with a webhook sink behind them.
One alert gives exactly one page; with one watcher killed the alert still resolves once and
nothing is re-sent; with one Alertmanager killed a new alert still pages once; the simulator's
request log shows the two watchers together within CoinW's 1 request / 2 s on the key.

Real time, because the peers are other processes: every wait is a bounded poll on an event.
With ``HA_FIGURES=path`` the figures are written there as JSON (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.am_support import needs_alertmanager
from tests.e2e import Daemon, Simulator, Sink, free_port, until
from tests.ha_support import (
    PEER_TIMEOUT,
    ClusteredAlertmanager,
    cluster_ready,
    logs,
    pages,
    window,
)
from watcher.ratelimit import BOOK_ENV
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY
from watcher.simulator.coinw import COUPON_SPACING
from watcher.sources.coinw_coupon import REQUEST_SPACING

pytestmark = [pytest.mark.e2e]
POLLS = 'watcher_source_poll_duration_seconds_count{source="coupons"}'
FIRING = 'watcher_alerts{alertname="HaProbeCoupon",state="firing"}'

RULES = """\
groups:
  - name: ha
    rules:
      - alert: HaProbeCoupon
        expr: coinw_mega_coupon_remaining_amount{coupon_id=~"9000000.."} > 0
        labels: {severity: page}
"""

# group_interval well above the peer timeout, as in production (5m vs 15s): a peer's flush
# that saw the alert still firing is checked against the log (after its peer timeout) before
# the other peer's next flush can have logged the resolution, so it never re-sends a stale
# "firing" (Alertmanager's DedupStage treats firing-after-resolved as a first notification).
AM_CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, coupon_id]
  group_wait: 1s
  group_interval: 10s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: "{sink}", send_resolved: true}}]
"""

WATCHER = """\
global: {{evaluation_interval: 1s}}
server: {{listen: "127.0.0.1:{port}"}}
storage: {{path: "{state}"}}
ha: {{replicas: 2, replica: watcher-{index}, share_rate_limit: true}}
sources:
  - name: coupons
    type: coinw_mega_coupon
    base_url: "{sim}"
    api_key: {key}
    secret_key: {secret}
    statuses: [unused]
    interval: 1s
    stale_after: 1m
rule_files: ["{rules}"]
route: {{receiver: alertmanagers}}
receivers:
  - name: alertmanagers
    alertmanager_configs: [{{url: "{am0}"}}, {{url: "{am1}"}}]
"""


class Run:
    """Everything the test starts, stopped in reverse whatever happens."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sim = Simulator()
        self.sink = Sink()
        am_config = tmp / "alertmanager.yml"
        self.ams = [ClusteredAlertmanager(tmp / f"am{i}", am_config) for i in range(2)]
        self.watchers: list[Daemon] = []

    async def start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        await self.sim.start()
        await self.sink.start()
        (self.tmp / "alertmanager.yml").write_text(AM_CONFIG.format(sink=self.sink.url))
        (self.tmp / "rules.yaml").write_text(RULES)
        await self.ams[0].start([self.ams[1].cluster])
        await self.ams[1].start([self.ams[0].cluster])
        await cluster_ready(self.ams)
        for i in range(2):
            path, port = self.tmp / f"watcher-{i}.yaml", free_port()
            path.write_text(
                WATCHER.format(
                    port=port,
                    state=self.tmp / f"state-{i}.db",
                    index=i,
                    sim=self.sim.url,
                    key=DEMO_API_KEY,
                    secret=DEMO_SECRET_KEY,
                    rules=self.tmp / "rules.yaml",
                    am0=self.ams[0].url,
                    am1=self.ams[1].url,
                )
            )
            # Two pods: no rate-limit book in common, only the wall-clock grid.
            monkeypatch.setenv(BOOK_ENV, str(self.tmp / f"book-{i}.db"))
            daemon = Daemon(path, port)
            await daemon.start()
            self.watchers.append(daemon)

    async def stop(self) -> None:
        for w in self.watchers:
            await w.kill()
        for am in self.ams:
            await am.stop()
        await self.sink.stop()
        await self.sim.stop()

    def add_coupon(self, coupon_id: int) -> None:
        row = dict(self.sim.state.coupons[800000003])  # a healthy unused coupon
        row["id"] = coupon_id
        self.sim.state.coupons[coupon_id] = row

    def coupon_requests(self) -> list[float]:
        return [r.at for r in self.sim.state.requests if r.endpoint == "coupon"]

    def violations(self) -> int:
        return sum(1 for r in self.sim.state.requests if r.outcome == "rate_limited")


@pytest.fixture
async def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Run]:
    r = Run(tmp_path)
    try:
        await r.start(monkeypatch)
        yield r
    finally:
        await r.stop()


async def _page(run: Run, status: str, coupon: str, after: float, timeout: float) -> float:
    """Wait for the sink's ``status`` notification of ``coupon``; its arrival time."""

    def found() -> list[float]:
        return [at for at, s, c, _ in pages(run.sink.posts) if (s, c) == (status, coupon)]

    await until(lambda: bool(found()), timeout, f"a {status} page for coupon {coupon}")
    return min(found()) - after


@needs_alertmanager
async def test_two_replicas_two_alertmanagers_one_page_and_a_shared_budget(run: Run) -> None:
    """One alert: one page; a watcher killed: resolved once, nothing re-sent; an Alertmanager
    killed: a new alert pages once; upstream never sees the key faster than its limit."""
    w0, w1 = run.watchers
    both_from, t0 = time.time(), time.monotonic()
    await w0.wait_for(lambda m: _replica(m) == "watcher-0" and m.get(POLLS, 0) >= 2)
    await w1.wait_for(lambda m: _replica(m) == "watcher-1" and m.get(POLLS, 0) >= 2)

    # 1. Both replicas fire the same alert at both peers: the cluster pages once.
    t = time.monotonic()
    run.add_coupon(900000001)
    first_page = await _page(run, "firing", "900000001", t, timeout=30)
    # Both replicas hold it firing (the survivor can only resolve what it saw firing; an
    # alert it never saw resolves when the dead replica's endsAt passes, as with Prometheus).
    for w in run.watchers:
        await w.wait_for(lambda m: m.get(FIRING, 0) >= 1)

    # 2. Kill a watcher, then the condition ends: the survivor resolves it, once.
    await w0.kill()
    both_until = time.time()
    t = time.monotonic()
    del run.sim.state.coupons[900000001]
    resolve_time = await _page(run, "resolved", "900000001", t, timeout=30)

    # 3. Kill an Alertmanager peer: a new alert still pages, once. First the peer that did not
    # send checks its log (after its peer timeout), so the sender's entry had time to gossip:
    # a peer killed at the instant it notified takes its entry along, and the other one then
    # sends too (Alertmanager's at-least-once; not what this step is about).
    sender = next(u for _, s, c, u in pages(run.sink.posts) if (s, c) == ("resolved", "900000001"))
    other = next(am for am in run.ams if str(am.port) not in sender)
    checks = await other.nflog_queries()
    await until_async(lambda: _more(other, checks), 30, "the other peer's log check")
    await run.ams[0].kill()
    t = time.monotonic()
    run.add_coupon(900000002)
    degraded_page = await _page(run, "firing", "900000002", t, timeout=40)
    # A duplicate would come within the peer timeout of the first copy: let that pass.
    await w1.evaluations_later(PEER_TIMEOUT + 2)
    # From a moment after the kill: a request in flight then may still be logged.
    one_from, one_until = both_until + 0.5, time.time()

    sent = pages(run.sink.posts)
    statuses = sorted((s, c) for _, s, c, _ in sent)
    expected = [("firing", "900000001"), ("firing", "900000002"), ("resolved", "900000001")]
    timeline = [(round(at - t0, 2), s, c, u) for at, s, c, u in sent]
    assert expected == statuses, f"{timeline}\n{logs(run.ams)}"
    requests = run.coupon_requests()
    both = window(requests, both_from, both_until)
    alone = window(requests, one_from, one_until)
    assert 0 == run.violations()
    assert both.min_gap >= COUPON_SPACING
    assert alone.min_gap >= 2 * COUPON_SPACING  # the survivor keeps its own share: 4.4 s
    assert both.per_second <= 1 / COUPON_SPACING
    figures = {
        "pages": len(sent),
        "duplicates": len(sent) - len(set(statuses)),
        "limit_per_second": 1 / COUPON_SPACING,
        "request_spacing": REQUEST_SPACING,
        "both_up": vars(both),
        "one_watcher_down": vars(alone),
        "time_to_page_both_up": first_page,
        "time_to_resolve_one_watcher_down": resolve_time,
        "time_to_page_one_watcher_and_one_alertmanager_down": degraded_page,
        "rate_limit_violations": run.violations(),
    }
    _record(figures)


async def _more(am: ClusteredAlertmanager, than: float) -> bool:
    return await am.nflog_queries() > than


async def until_async(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """``until`` for a predicate that has to ask another process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    msg = f"timed out after {timeout}s waiting for {what}"
    raise AssertionError(msg)


def _replica(metrics: dict[str, float]) -> str:
    """The replica named by watcher_ha_replica_info on /metrics."""
    for key, value in metrics.items():
        if key.startswith("watcher_ha_replica_info{") and value == 1.0:
            return key.split('replica="', 1)[1].split('"', 1)[0]
    return ""


def _record(figures: dict[str, Any]) -> None:
    out = os.environ.get("HA_FIGURES")
    if out:
        Path(out).write_text(json.dumps(figures, indent=2, default=float) + "\n")
