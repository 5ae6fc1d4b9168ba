"""Opsgenie: config as Alertmanager 0.25 reads it, retries, and the API key kept out of sight.

The requests real Alertmanager sends are compared in test_notify_opsgenie_alertmanager.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from tests.am_sink import RawSink, serve
from tests.am_support import check_config
from tests.notify_support import T0, coupon_alert, deliver, dispatching, only_problem
from watcher.clock import FakeClock
from watcher.config import parse_config
from watcher.notify.amconfig import alertmanager_yaml

KEY = "G3N1EK3Y-do-not-leak"


def _config(entry: str, *, extra: str = "") -> str:
    return (
        f"{extra}route: {{receiver: og, group_by: [alertname], group_wait: 0s}}\n"
        "receivers:\n  - name: og\n    opsgenie_configs:\n      - " + entry + "\n"
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{api_url: 'http://og.example/'}", "no global OpsGenie API Key set"),
        ("{api_key: k, responders: [{type: team}]}", "at least one of id, username or name"),
        ("{api_key: k, responders: [{name: x, type: group}]}", 'got "group"'),
        ("{api_key: k, message: '{{ .X'}", "opsgenie_configs[0].message: template: :1:"),
        ("{api_key: k, api_key_file: f}", "give either api_key or api_key_file"),
        ("{api_key: k, priorty: P1}", 'priorty: unknown key (did you mean "priority"?)'),
    ],
)
def test_config_problems_name_file_line_and_key(tmp_path: Path, entry: str, problem: str) -> None:
    """Each mistake is one problem with the YAML line and the key path."""
    found = only_problem(_config(entry), tmp_path / "w.yaml")
    assert f"{tmp_path / 'w.yaml'}:5 receivers[0].opsgenie_configs[0]" in found
    assert problem in found


def test_globals_fill_in_and_the_url_gets_its_slash(tmp_path: Path) -> None:
    """global.opsgenie_api_url / opsgenie_api_key_file apply, as in Alertmanager's config."""
    (tmp_path / "og-key").write_text(f"{KEY}\n")
    extra = (
        "global:\n  opsgenie_api_url: 'http://og.example/api'\n  opsgenie_api_key_file: og-key\n"
    )
    cfg = parse_config(_config("{tags: a}", extra=extra), tmp_path / "w.yaml")
    c = cfg.receivers[0].opsgenie_configs[0]
    assert ("http://og.example/api/", KEY) == (c.api_url, c.api_key.get())
    original = alertmanager_yaml(cfg)
    assert KEY not in original
    assert "api_key: <secret>" in original


def _scripted(statuses: list[int]) -> Callable[[], web.Response]:
    """Answers each request with the next status of ``statuses`` (then 202)."""

    def reply() -> web.Response:
        status = statuses.pop(0) if statuses else 202
        return web.json_response({"result": "x"}, status=status)

    return reply


async def _run(tmp_path: Path, statuses: list[int], entry: str) -> tuple[RawSink, Any]:
    sink = RawSink(_scripted(statuses))
    async with serve(sink) as url:
        text = _config(entry.replace("URL", f"{url}/"))
        config = parse_config(text, tmp_path / "w.yaml")
        clock = FakeClock(T0)
        async with dispatching(config, tmp_path / "w.db", clock) as d:
            with capture_logs() as logs:
                await deliver(d, clock, [coupon_alert("1")], 1)
                await d.send([coupon_alert("1", ends=T0 + 2)], T0 + 3)
                clock.advance(400)
                await d.tick()
    return sink, logs


async def test_5xx_and_429_are_retried_and_the_key_is_only_in_the_header(tmp_path: Path) -> None:
    """500 and 429 are retried within the delivery; create then close arrive, key in header only."""
    sink, logs = await _run(tmp_path, [500, 429], f"{{api_url: URL, api_key: {KEY}}}")
    paths = [(q.method, q.path.split("?")[0].rsplit("/", 1)[-1]) for q in sink.requests]
    assert [("POST", "alerts")] * 3 + [("POST", "close")] == paths
    assert {f"GenieKey {KEY}"} == {q.headers["Authorization"] for q in sink.requests}
    assert all(KEY.encode() not in q.body for q in sink.requests)
    assert KEY not in repr(logs)
    assert KEY.encode() not in (tmp_path / "w.db").read_bytes()


async def test_a_failed_update_resends_the_whole_notification(tmp_path: Path) -> None:
    """With update_alerts, a 500 on a PUT retries create and both updates, as Alertmanager."""
    entry = f"{{api_url: URL, api_key: {KEY}, update_alerts: true, send_resolved: false}}"
    sink, _ = await _run(tmp_path, [202, 500], entry)
    methods = [q.method for q in sink.requests]
    assert ["POST", "PUT", "POST", "PUT", "PUT"] == methods
    assert {"message": json.loads(sink.requests[1].body)["message"]} == json.loads(
        sink.requests[3].body
    )


async def test_a_422_is_not_retried_within_the_delivery(tmp_path: Path) -> None:
    """Opsgenie's 422 is permanent: one request per delivery (the outbox tries again later)."""
    entry = f"{{api_url: URL, api_key: {KEY}, send_resolved: false}}"
    sink, logs = await _run(tmp_path, [422] * 5, entry)
    assert 2 == len(sink.requests)  # one in each of the two deliveries, not 4 retries
    assert any("opsgenie: HTTP 422" in str(e.get("error")) for e in logs)


def test_config_original_loads_in_alertmanagers_own_checker(tmp_path: Path) -> None:
    """amtool check-config accepts config.original's opsgenie_configs (keys as <secret>)."""
    entry = (
        f"{{api_key: {KEY}, update_alerts: true, priority: P2, details: {{a: b}},"
        " responders: [{name: ops, type: team}, {username: u, type: user}]}"
    )
    (tmp_path / "am.yml").write_text(
        alertmanager_yaml(parse_config(_config(entry), tmp_path / "w.yaml"))
    )
    code, out = check_config(tmp_path / "am.yml")
    assert 0 == code, out


async def test_a_templated_api_key_is_rendered_from_the_alerts(tmp_path: Path) -> None:
    """api_key: '{{ .CommonLabels.source }}-key' is rendered per notification (Alertmanager's tmpl)."""
    entry = "{api_url: URL, api_key: '{{ .CommonLabels.source }}-key', send_resolved: false}"
    sink, _ = await _run(tmp_path, [], entry)
    assert ["GenieKey coinw-main-key"] == [q.headers["Authorization"] for q in sink.requests]
