"""The daemon's history: self-metrics sampled at each evaluation, samples kept across restarts."""

from __future__ import annotations

from tests.conftest import Writer
from watcher.app import Daemon
from watcher.clock import FakeClock
from watcher.config import load_config
from watcher.query import run_query

CONFIG = """\
storage: {{path: {root}/state.db, retention: 1h}}
rule_files: [{root}/rules.yaml]
sources:
  - {{name: a, type: coinw_mega_coupon, base_url: "http://127.0.0.1:9", api_key: k,
     secret_key: s, statuses: [unused], interval: 1h}}
"""
RULES = """\
groups:
- name: self
  rules:
  - alert: SourceErrors
    expr: rate(watcher_source_errors_total[5m]) > 0
"""


async def test_self_metrics_are_sampled_and_survive_a_restart(write: Writer) -> None:
    """rate() over a watcher_* counter works, and reads the same after a restart."""
    write("rules.yaml", RULES)
    path = write("watcher.yaml", CONFIG.format(root=write.root))
    clock = FakeClock(1_700_000_000.0, auto_advance=False)
    daemon = Daemon(load_config(path), clock=clock, deliver=False)
    errors = daemon.metrics.source_errors.labels(source="a", reason="timeout")
    for _ in range(5):
        errors.inc(60)
        await daemon.evaluate()
        clock.advance(60)
    expr = {"query": 'rate(watcher_source_errors_total{reason="timeout"}[5m])'}
    status, body = run_query(expr, daemon.snapshot(), daemon.history)
    assert (200, ["1"]) == (status, [r["value"][1] for r in body["data"]["result"]])
    assert ["SourceErrors"] == [a.labels["alertname"] for a in daemon.last_alerts]
    await daemon.stop()

    again = Daemon(load_config(path), clock=clock, deliver=False)
    status, body = run_query(expr, again.snapshot(), again.history)
    assert (200, ["1"]) == (status, [r["value"][1] for r in body["data"]["result"]])
    await again.stop()
