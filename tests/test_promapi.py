"""Prometheus's HTTP API over the watcher's samples: shapes, errors and limits as in 2.42."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Writer
from tests.pki import bcrypt_hash
from watcher.app import Daemon
from watcher.clock import FakeClock
from watcher.config import load_config
from watcher.errors import RuleError
from watcher.graph import render
from watcher.query import add_query_routes, run_query_range
from watcher.rules.promql import compile_expr
from watcher.series import Series
from watcher.server.guard import install_guard
from watcher.server.promapi import add_prometheus_api

T0 = 1_700_000_000
CONFIG = """\
storage: {{path: {root}/state.db}}
rule_files: [{root}/rules.yaml]
server: {{web_config_file: {root}/web.yaml}}
sources:
  - {{name: s, type: coinw_mega_coupon, base_url: "http://127.0.0.1:9", api_key: k,
     secret_key: s, statuses: [unused], interval: 1h}}
"""
RULES = """\
groups:
- name: g
  rules:
  - record: job:c:rate5m
    expr: sum(rate(c_total[5m]))
  - alert: Fast
    expr: rate(c_total{i="0"}[5m]) > 0.5
    for: 0s
    labels: {severity: page}
    annotations: {summary: 'rate {{ $value }}'}
"""

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def daemon(write: Writer) -> AsyncIterator[Daemon]:
    write("rules.yaml", RULES)
    write("web.yaml", "")
    path = write("watcher.yaml", CONFIG.format(root=write.root))
    clock = FakeClock(T0, auto_advance=False)
    d = Daemon(load_config(path), clock=clock, deliver=False)
    # two series polled every minute for 20 minutes; i="1" stops (stale) after 10
    for minute in range(21):
        now = T0 + minute * 60
        series = [Series("c_total", {"i": "0"}, 60.0 * minute)]
        if minute <= 10:
            series.append(Series("c_total", {"i": "1"}, 30.0 * minute))
        d.store.put("s", "g", series, now)
        clock.advance(60 if minute < 20 else 0)
    await d.evaluate()
    yield d
    await d.stop()


@pytest.fixture
async def client(daemon: Daemon) -> AsyncIterator[Client]:
    app = web.Application()
    install_guard(app, daemon)
    add_query_routes(app, daemon)
    add_prometheus_api(app, daemon)
    async with TestClient(TestServer(app)) as c:
        yield c


async def _get(client: Client, path: str, **params: Any) -> tuple[int, Any]:
    resp = await client.get(path, params=params)
    return resp.status, await resp.json()


async def test_query_range_answers_a_matrix(client: Client) -> None:
    """Each series' [time, "value"] points at every step; times as whole seconds when whole."""
    status, body = await _get(
        client, "/api/v1/query_range", query="rate(c_total[5m])",
        start=str(T0 + 600), end=str(T0 + 900), step="5m",
    )  # fmt: skip
    assert 200 == status
    assert {
        "resultType": "matrix",
        "result": [
            {"metric": {"i": "0"}, "values": [[T0 + 600, "1"], [T0 + 900, "1"]]},
            {"metric": {"i": "1"}, "values": [[T0 + 600, "0.5"]]},
        ],
    } == body["data"]


async def test_an_instant_range_vector_answers_the_windows_samples(client: Client) -> None:
    """``query=c_total[150s]`` answers each series' samples in the window as a matrix, as
    Prometheus does (Grafana's Explore sends these); the stale marker of the series that
    stopped is not a sample; /graph shows the samples; a rule still may not be a range vector."""
    status, body = await _get(client, "/api/v1/query", query="c_total[150s]", time=str(T0 + 720))
    assert 200 == status
    assert {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "c_total", "i": "0"},
                "values": [[T0 + 600, "600"], [T0 + 660, "660"], [T0 + 720, "720"]],
            },
            {"metric": {"__name__": "c_total", "i": "1"}, "values": [[T0 + 600, "300"]]},
        ],
    } == body["data"]
    status, body = await _get(client, "/api/v1/query", query="c_total[2m:1m]", time=str(T0 + 720))
    assert 200 == status
    # steps at multiples of 1m since the epoch inside [T0 + 600, T0 + 720], each the latest value
    assert [[T0 + 640, "600"], [T0 + 700, "660"]] == body["data"]["result"][0]["values"]
    page = render("c_total[2m:1m]", [], status, body)
    assert f"2 samples: 600@{T0 + 640} 660@{T0 + 700}" in page
    with pytest.raises(RuleError, match="a rule expression must be a vector or a scalar"):
        compile_expr("c_total[150s]", history=True)


async def test_query_range_by_post_form_and_scalar(client: Client) -> None:
    """A form body is read as Prometheus reads it; a scalar becomes one series without labels."""
    resp = await client.post(
        "/api/v1/query_range", data={"query": "2 * 3", "start": T0, "end": T0 + 1.5, "step": 1}
    )
    body = await resp.json()
    assert [{"metric": {}, "values": [[T0, "6"], [T0 + 1, "6"]]}] == body["data"]["result"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": "1", "end": "1", "step": "1"},
         'invalid parameter "start": cannot parse "" to a valid timestamp'),
        ({"query": "1", "start": "2", "end": "1", "step": "1"},
         'invalid parameter "end": end timestamp must not be before start time'),
        ({"query": "1", "start": "1", "end": "2", "step": "0"},
         'invalid parameter "step": zero or negative query resolution step widths are not'
         " accepted. Try a positive integer"),
        ({"query": "1", "start": "0", "end": "11001", "step": "1"},
         "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query"
         " resolution (?step=XX)"),
        ({"query": "c_total[5m]", "start": "0", "end": "1", "step": "1"},
         'invalid expression type "range vector" for range query, must be Scalar or instant'
         " Vector"),
    ],
)  # fmt: skip
async def test_query_range_refuses_what_prometheus_refuses(
    client: Client, params: dict[str, str], message: str
) -> None:
    """Bad parameters are 400 bad_data with Prometheus's own message."""
    status, body = await _get(client, "/api/v1/query_range", **params)
    assert (400, "error", "bad_data", message) == (
        status, body["status"], body["errorType"], body["error"],
    )  # fmt: skip


def test_query_limits(daemon: Daemon) -> None:
    """Too many samples is 422 execution, a timeout 503 timeout, in Prometheus's words."""
    params = {"query": "c_total", "start": str(T0), "end": str(T0 + 1200), "step": "60"}
    status, body = run_query_range(
        params, daemon.snapshot(), daemon.history, monotonic=daemon.clock.monotonic, max_samples=10
    )
    assert (422, "execution") == (status, body["errorType"])
    assert (
        "query processing would load too many samples into memory in query execution"
        == body["error"]
    )
    ticks = iter(range(1000))
    status, body = run_query_range(
        {**params, "timeout": "5s"}, daemon.snapshot(), daemon.history,
        monotonic=lambda: float(next(ticks)),
    )  # fmt: skip
    assert (503, "timeout", "query timed out in expression evaluation") == (
        status, body["errorType"], body["error"],
    )  # fmt: skip


async def test_query_range_timeout_runs_on_the_daemon_clock(client: Client) -> None:
    """The range query's deadline is on the injected clock: while fake time stands still a
    query finishes within even a nanosecond's timeout (on the real clock it would time out)."""
    params = {"start": str(T0), "end": str(T0 + 1200), "step": "60", "timeout": "1e-9"}
    status, body = await _get(client, "/api/v1/query_range", query="c_total", **params)
    assert (200, "success", 2) == (status, body["status"], len(body["data"]["result"]))


async def test_series_labels_and_values(client: Client) -> None:
    """Series with a sample in [start, end]; their label names and values, sorted."""
    _, all_series = await _get(client, "/api/v1/series", **{"match[]": "c_total"})
    _, late = await _get(
        client, "/api/v1/series", start=str(T0 + 900), **{"match[]": '{__name__="c_total"}'}
    )
    _, names = await _get(client, "/api/v1/labels", **{"match[]": "c_total"})
    _, values = await _get(client, "/api/v1/label/i/values")
    _, metric_names = await _get(client, "/api/v1/label/__name__/values")
    assert [{"__name__": "c_total", "i": "0"}, {"__name__": "c_total", "i": "1"}] == all_series[
        "data"
    ]
    assert [{"__name__": "c_total", "i": "0"}] == late["data"]
    assert ["__name__", "i"] == names["data"]
    assert ["0", "1"] == values["data"]
    assert {"c_total", "job:c:rate5m", "watcher_build_info"} <= set(metric_names["data"])


async def test_series_errors(client: Client) -> None:
    """No match[] and a bad label name are bad_data, as Prometheus says them."""
    s1, no_match = await _get(client, "/api/v1/series")
    s2, bad_name = await _get(client, "/api/v1/label/0x/values")
    s3, bad_sel = await _get(client, "/api/v1/series", **{"match[]": "sum(c_total)"})
    assert [400, 400, 400] == [s1, s2, s3]
    assert "no match[] parameter provided" == no_match["error"]
    assert 'invalid label name: "0x"' == bad_name["error"]
    assert "bad_data" == bad_sel["errorType"]


async def test_rules_and_alerts(client: Client) -> None:
    """Rules with their state and alerts; the alerts API's value is Go's %e."""
    _, rules = await _get(client, "/api/v1/rules")
    _, alerts = await _get(client, "/api/v1/alerts")
    _, only_records = await _get(client, "/api/v1/rules", type="record")
    (group,) = rules["data"]["groups"]
    recording, alerting = group["rules"]
    assert ("recording", "job:c:rate5m", "ok") == (
        recording["type"], recording["name"], recording["health"],
    )  # fmt: skip
    assert ("alerting", "firing", 0, {"severity": "page"}) == (
        alerting["type"], alerting["state"], alerting["duration"], alerting["labels"],
    )  # fmt: skip
    (alert,) = alerts["data"]["alerts"]
    assert {"alertname": "Fast", "i": "0", "severity": "page"} == alert["labels"]
    assert ("firing", "1e+00", "2023-11-14T22:33:20Z") == (
        alert["state"], alert["value"], alert["activeAt"],
    )  # fmt: skip
    assert ["recording"] == [r["type"] for r in only_records["data"]["groups"][0]["rules"]]
    # how long the last evaluation took, in seconds, as Prometheus reports it
    assert 0 < recording["evaluationTime"]
    assert 0 < alerting["evaluationTime"]
    assert recording["evaluationTime"] + alerting["evaluationTime"] <= group["evaluationTime"]
    assert "lastError" not in recording
    assert "lastError" not in alerting


async def test_a_failing_rule_is_unhealthy_with_its_error(write: Writer) -> None:
    """A rule whose evaluation fails shows health "err" and Prometheus's ``lastError``; the
    other rules of its group stay "ok"; once the rule succeeds again the error goes."""
    write("rules.yaml", RULES.replace(
        "  - alert: Fast",
        "  - alert: Clash\n    expr: c_total / on() c_total\n  - alert: Fast",
    ))  # fmt: skip
    write("web.yaml", "")
    clock = FakeClock(T0, auto_advance=False)
    d = Daemon(load_config(write("watcher.yaml", CONFIG.format(root=write.root))), clock=clock,
               deliver=False)  # fmt: skip
    d.store.put("s", "g", [Series("c_total", {"i": "0"}, 1.0), Series("c_total", {"i": "1"}, 2.0)],
                T0)  # fmt: skip
    await d.evaluate()
    app = web.Application()
    install_guard(app, d)
    add_prometheus_api(app, d)
    async with TestClient(TestServer(app)) as c:
        _, body = await _get(c, "/api/v1/rules")
        rules = {r["name"]: r for r in body["data"]["groups"][0]["rules"]}
        assert ("err", "ok", "ok") == tuple(
            rules[n]["health"] for n in ("Clash", "Fast", "job:c:rate5m")
        )
        assert "many-to-many matching not allowed" in rules["Clash"]["lastError"]
        assert ["health", "lastError", "evaluationTime"] == [
            k for k in rules["Clash"] if k in ("health", "lastError", "evaluationTime")
        ]
        d.store.put("s", "g", [Series("c_total", {"i": "0"}, 3.0)], T0 + 60)
        clock.advance(60)
        await d.evaluate()
        _, body = await _get(c, "/api/v1/rules")
        clash = next(r for r in body["data"]["groups"][0]["rules"] if r["name"] == "Clash")
        assert ("ok", False) == (clash["health"], "lastError" in clash)
    await d.stop()


async def test_buildinfo_and_metadata(client: Client) -> None:
    """buildinfo has Prometheus's keys; metadata gives each metric's type and help."""
    _, build = await _get(client, "/api/v1/status/buildinfo")
    _, meta = await _get(client, "/api/v1/metadata")
    _, one = await _get(client, "/api/v1/metadata", metric="c_total")
    assert {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"} == set(
        build["data"]
    )
    assert "counter" == meta["data"]["watcher_source_errors_total"][0]["type"]
    assert {"c_total": [{"type": "gauge", "help": "c total", "unit": ""}]} == one["data"]


async def test_the_api_honours_web_auth(daemon: Daemon, write: Writer) -> None:
    """With basic auth configured, /api/v1/* answers 401 without credentials."""
    write("web.yaml", f"basic_auth_users: {{reader: '{bcrypt_hash('pw-123456')}'}}\n")
    assert [] == await daemon.reload()
    app = web.Application()
    install_guard(app, daemon)
    add_query_routes(app, daemon)
    add_prometheus_api(app, daemon)
    async with TestClient(TestServer(app)) as c:
        anonymous = await c.get("/api/v1/series", params={"match[]": "c_total"})
        ok = await c.get(
            "/api/v1/series",
            params={"match[]": "c_total"},
            auth=aiohttp.BasicAuth("reader", "pw-123456"),
        )
    assert (401, 200) == (anonymous.status, ok.status)
