"""Alertmanager API v2 pieces amtool, Grafana and Prometheus use: routes, groups, posting.

``amtool config routes show|test`` parse ``/api/v2/status`` ``config.original`` with
Alertmanager's own loader; the same commands on the same routing as a local file (read by
amtool itself) must print the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.am_support import needs_amtool, run_amtool
from tests.notify_support import dispatcher, dispatching, serve_api
from watcher.clock import FakeClock, SystemClock
from watcher.config import parse_config
from watcher.notify import Dispatcher
from watcher.notify.data import rfc3339
from watcher.server.routes import add_alertmanager_api

ROUTING = """
route:
  receiver: oncall
  group_by: [alertname, source]
  group_wait: 10s
  routes:
    - matchers: ['severity="info"']
      receiver: log-only
      continue: true
    - matchers: ['source=~"coinw.*"', 'severity!="info"']
      receiver: coinw-team
      group_by: ['...']
      routes:
        - {matchers: [alertname=KycRequired], receiver: kyc}
inhibit_rules:
  - {source_matchers: ['alertname="SourceDown"'], target_matchers: ['alertname!="SourceDown"'], equal: [source]}
receivers:
  - name: oncall
    slack_configs: [{api_url: 'https://hooks.slack.com/services/T0/B0/SLACKSECRET', channel: '#oncall'}]
  - name: log-only
    webhook_configs:
      - url: 'https://user:PASSSECRET@hooks.internal/alerts?key=KEYSECRET'
        http_config: {authorization: {credentials: TOKENSECRET}}
  - name: coinw-team
    slack_configs: [{api_url: 'https://hooks.slack.com/services/T1/B1/OTHERSECRET', title: '{{ .Status }}'}]
  - name: kyc
"""
SECRETS = ("SLACKSECRET", "PASSSECRET", "KEYSECRET", "TOKENSECRET", "OTHERSECRET", "services/T")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, Dispatcher]]:
    """The watcher's API with the routing above and no alerts."""
    config = parse_config(ROUTING, tmp_path / "watcher.yaml")
    async with dispatching(config, tmp_path / "s.db", SystemClock()) as d, serve_api(d) as url:
        yield url, d


async def amtool(*args: str) -> tuple[int, str]:
    """Run the real amtool; return its exit code and standard output (stderr on failure)."""
    return await run_amtool("--no-version-check", *args)


@needs_amtool
async def test_amtool_config_routes_show_and_test_match_the_same_file(
    api: tuple[str, Dispatcher], tmp_path: Path
) -> None:
    """routes show/test against the watcher print what they print for the config file."""
    url, _ = api
    (tmp_path / "am.yml").write_text(ROUTING)
    local = f"--config.file={tmp_path / 'am.yml'}"
    remote = f"--alertmanager.url={url}"
    cases = [
        ("config", "routes", "show"),
        ("config", "routes", "test", "alertname=Foo", "severity=info"),
        ("config", "routes", "test", "alertname=KycRequired", "source=coinw-main"),
        ("config", "routes", "test", "alertname=Down", "source=tradeboss"),
    ]
    for case in cases:
        theirs, ours = await amtool(*case, local), await amtool(*case, remote)
        assert theirs == ours, case
        assert 0 == ours[0]
    code, shown = await amtool("config", "show", remote)
    assert 0 == code, shown
    assert [] == [s for s in SECRETS if s in shown]
    assert "<secret>" in shown


@needs_amtool
async def test_amtool_alert_add_then_groups_list_it(api: tuple[str, Dispatcher]) -> None:
    """amtool alert add posts to the watcher; /api/v2/alerts/groups shows it per receiver."""
    url, d = api
    code, out = await amtool(
        "alert",
        "add",
        "alertname=KycRequired",
        "source=coinw-main",
        "--annotation=summary=KYC needed",
        f"--alertmanager.url={url}",
    )
    assert 0 == code, out
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v2/alerts/groups") as resp:
        groups = await resp.json()
    assert [
        ("kyc", {"alertname": "KycRequired", "source": "coinw-main"}, ["KYC needed"]),
    ] == [
        (g["receiver"]["name"], g["labels"], [a["annotations"]["summary"] for a in g["alerts"]])
        for g in groups
    ]
    assert ["kyc"] == [r for s in d.alerts() for r in s.receivers]


async def test_posted_alerts_are_validated_like_alertmanager(api: tuple[str, Dispatcher]) -> None:
    """Bad alerts get 400 with Alertmanager's reasons; the valid ones in the batch are kept."""
    url, d = api
    body = [
        {"labels": {"alertname": "Ok", "empty": ""}},
        {"labels": {}},
        {"labels": {"bad-name": "x"}},
        {
            "labels": {"a": "b"},
            "startsAt": "2024-01-02T00:00:00Z",
            "endsAt": "2024-01-01T00:00:00Z",
        },
        {"annotations": {"a": "b"}},
    ]
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{url}/api/v2/alerts", json=body) as resp,
    ):
        assert 400 == resp.status
        message = await resp.json()
    assert (
        'alerts[1]: at least one label pair required; alerts[2]: invalid name "bad-name";'
        " alerts[3]: start time must be before end time; alerts[4]: labels in body is required"
    ) == message
    assert [{"alertname": "Ok"}] == [dict(s.alert.labels) for s in d.alerts()]


async def test_posted_alerts_fire_until_their_ends_at_or_the_resolve_timeout(
    tmp_path: Path,
) -> None:
    """As Alertmanager keeps posted alerts: one without endsAt fires for global.resolve_timeout
    after its last post, one with a later endsAt until then (not the rules' 4-minute validity),
    one posted again lives on."""
    config = parse_config(
        "global: {resolve_timeout: 2m}\nroute: {receiver: r}\nreceivers: [{name: r}]\n",
        tmp_path / "watcher.yaml",
    )
    clock = FakeClock()
    async with aiohttp.ClientSession() as session:
        d = dispatcher(config, ":memory:", session, clock)
        app = web.Application()
        add_alertmanager_api(app, d)
        later = rfc3339(clock.time() + 600)
        body = [
            {"labels": {"alertname": "NoEnd"}},
            {"labels": {"alertname": "Reposted"}},
            {"labels": {"alertname": "EndsLater"}, "endsAt": later},
        ]
        async with TestClient(TestServer(app)) as client:

            async def firing() -> set[str]:
                return {s.alert.labels["alertname"] for s in d.alerts()}

            assert 200 == (await client.post("/api/v2/alerts", json=body)).status
            clock.advance(90)
            assert {"NoEnd", "Reposted", "EndsLater"} == await firing()
            resp = await client.post("/api/v2/alerts", json=[body[1]])
            assert 200 == resp.status
            clock.advance(60)  # 150 s after the first post, 60 s after the second
            assert {"Reposted", "EndsLater"} == await firing()
            clock.advance(300)  # 450 s: past the rules' 240 s validity, before endsAt
            assert {"EndsLater"} == await firing()
            clock.advance(200)
            assert set() == await firing()
