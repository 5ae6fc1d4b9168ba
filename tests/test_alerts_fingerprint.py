"""Fingerprints, group keys and alert order exactly as real Alertmanager computes them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.am_support import get_json, needs_alertmanager, poll, post_alerts, run_alertmanager
from tests.notify_support import Sink, deliver, dispatching, serve
from watcher.alerts import Alert, fingerprint
from watcher.clock import FakeClock
from watcher.config import parse_config

# Label sets that exercise the hash and Go's quoting: quotes, backslashes, newlines, control
# characters, non-ASCII, a zero-width space, astral runes and a long value.
LABEL_SETS: list[dict[str, str]] = [
    {"alertname": "Simple"},
    {"alertname": "Quotes", "team": 'a"b\\c', "severity": "page", "note": "l1\nl2\ttab"},
    {"alertname": "Unicode", "team": "ops", "severity": "page", "note": "café ☃ 😀 \u200b\x01\x7f"},
    {"alertname": "Long", "team": "ops", "note": "x" * 3000},
    {"alertname": "Order", "team": "t", "job": "b"},
    {"alertname": "Order", "team": "t", "instance": "i-1"},
    {"alertname": "Order", "team": "t"},
    {"alertname": "Order", "team": "t", "job": "a", "z": "1"},
    {"alertname": "Order", "team": "t", "job": "a", "instance": "i-2"},
    {"alertname": "Order", "team": "t", "a": "2"},
    {"alertname": "Order", "team": "t", "b": "1"},
]

# The same routing tree for both: nested routes, continue, matchers whose values need escaping.
ROUTING = """
route:
  receiver: sink
  group_by: [alertname, team]
  group_wait: 1s
  group_interval: 1h
  repeat_interval: 4h
  routes:
    - matchers: ['severity="page"', 'team=~"a\\"b\\\\\\\\.*|ops\\n?"']
      receiver: sink
      group_by: [alertname, team, note]
      continue: true
    - match: {severity: page}
      receiver: sink
    - matchers: [alertname=Order]
      receiver: sink
      group_by: ['...']
      routes:
        - matchers: ['job!~"x|y"', 'instance=""']
          receiver: sink
          group_by: [alertname]
receivers:
  - name: sink
    webhook_configs: [{url: "URL"}]
"""


def _summary(bodies: list[dict[str, Any]]) -> list[tuple[str, list[str], list[dict[str, str]]]]:
    """What identifies each notification: its group key, fingerprints and labels in order."""
    return sorted(
        (
            b["groupKey"],
            [a["fingerprint"] for a in b["alerts"]],
            [a["labels"] for a in b["alerts"]],
        )
        for b in bodies
    )


async def _watcher_bodies(tmp_path: Path) -> list[dict[str, Any]]:
    async with serve(Sink()) as sink:
        config = parse_config(ROUTING.replace("URL", f"{sink.url}/hook"), tmp_path / "w.yaml")
        clock = FakeClock(1_700_000_000.0)
        async with dispatching(config, tmp_path / "w.db", clock) as d:
            alerts = [Alert(labels, {}, clock.time(), None, 1.0) for labels in LABEL_SETS]
            await deliver(d, clock, alerts, 2)
        return sink.accepted


@needs_alertmanager
async def test_fingerprints_group_keys_and_order_match_real_alertmanager(tmp_path: Path) -> None:
    """Alertmanager's /api/v2/alerts fingerprints and its webhook groupKeys equal the watcher's."""
    ours = await _watcher_bodies(tmp_path)
    assert 9 == len(ours)  # groups: see ROUTING; each flushes once
    async with serve(Sink()) as sink:
        text = ROUTING.replace("URL", f"{sink.url}/hook")
        async with run_alertmanager(tmp_path, text) as url:
            starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            await post_alerts(url, [{"labels": ls, "startsAt": starts} for ls in LABEL_SETS])
            listed = await get_json(f"{url}/api/v2/alerts")
            await poll(lambda: len(sink.accepted) >= len(ours))
    am_fingerprints = {a["fingerprint"]: a["labels"] for a in listed}
    assert {fingerprint(ls): ls for ls in LABEL_SETS} == am_fingerprints
    assert sorted(am_fingerprints) == [a["fingerprint"] for a in listed]
    assert _summary(sink.accepted) == _summary(ours)


def test_fingerprints_equal_values_alertmanager_printed() -> None:
    """Ids recorded from prometheus-alertmanager 0.25's /api/v2/alerts, and the empty set's."""
    assert "13884ec6e7748cf6" == fingerprint({"alertname": "Simple"})
    quotes = {"alertname": "Quotes", "team": 'a"b\\c', "severity": "page", "note": "l1\nl2\ttab"}
    assert "c4d9a39bb51c90a9" == fingerprint(quotes)
    assert "cbf29ce484222325" == fingerprint({})  # FNV-1a 64's offset basis
