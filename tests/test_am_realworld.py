"""A real-world Alertmanager config moves over unchanged and sends what Alertmanager sends.

``tests/am_realworld/`` is a production-style ``alertmanager.yml`` with its ``templates/``:
nested routes with ``continue``, legacy ``match``/``match_re``, a route with its own
``group_by``, inhibit rules (one whose source also matches its target), time intervals,
``global`` SMTP/Slack/PagerDuty defaults, Slack with the community's usual custom templates
and buttons, PagerDuty with custom details, email with a custom subject and text, a webhook
and a ``null`` receiver. The watcher loads the file as it is; then real Alertmanager and the
watcher get the same alerts, with only the receivers' addresses pointed at local sinks and
the group timers shortened, and every Slack, PagerDuty and webhook body and every mail must
be the same (bodies as bytes, webhooks as JSON: Alertmanager's Go encoder spaces them
differently; mails by envelope, headers, parts and decoded bodies). ``amtool config routes
test`` finds the same receivers in the watcher's ``config.original`` as in the file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.am_sink import (
    RawSink,
    Request,
    serve,
    through_alertmanager,
    through_watcher,
    with_external_url,
)
from tests.am_support import needs_alertmanager
from tests.smtp_support import mail_shape, smtp_server
from watcher.alerts import Alert
from watcher.config import load_config, parse_config
from watcher.errors import ConfigError
from watcher.notify.amconfig import alertmanager_yaml

SOURCE = Path(__file__).parent / "am_realworld"
EXTERNAL_URL = "http://alertmanager.example.org:9093"
USERS = {"alertmanager@example.org": "not-a-real-password"}


def test_the_file_loads_unchanged() -> None:
    """The config and its templates load in the watcher exactly as Alertmanager takes them."""
    config = load_config(SOURCE / "alertmanager.yml")
    integrations = {
        r.name: [
            kind
            for kind in ("email_configs", "pagerduty_configs", "slack_configs", "webhook_configs")
            for _ in getattr(r, kind)
        ]
        for r in config.receivers
    }
    assert {
        "null": [],
        "default-email": ["email_configs"],
        "pagerduty-critical": ["pagerduty_configs"],
        "team-db-slack": ["slack_configs"],
        "team-db-email": ["email_configs"],
        "team-frontend": ["slack_configs", "webhook_configs"],
    } == integrations
    assert {"weekends", "business-hours"} == set(config.time_intervals)
    assert 2 == len(config.inhibit_rules)


def test_global_slack_api_url_is_the_default_and_checked(tmp_path: Path) -> None:
    """``global.slack_api_url`` serves every Slack config without its own; a bad one is
    reported at the global key, without its value."""
    text = (
        "global: {slack_api_url: 'https://hooks.example/T/B/x'}\n"
        "route: {receiver: a}\n"
        "receivers:\n"
        "  - {name: a, slack_configs: [{channel: '#a'}, {api_url: 'https://own.example/y'}]}\n"
    )
    slack = parse_config(text, tmp_path / "w.yaml").receivers[0].slack_configs
    assert ["https://hooks.example/T/B/x", "https://own.example/y"] == [
        c.api_url.get() for c in slack
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(text.replace("https://hooks.example/T/B/x", "hooks"), tmp_path / "w.yaml")
    assert [f"{tmp_path / 'w.yaml'}:1 global.slack_api_url: expected an http(s) URL (value not "
            "shown: it is a secret)"] == info.value.problems  # fmt: skip


def _copy(tmp_path: Path, sink: str, smtp_port: int) -> Path:
    """The config with its addresses on the local sinks and short group timers."""
    text = (SOURCE / "alertmanager.yml").read_text()
    for old, new in (
        ("https://hooks.slack.com/services", f"{sink}/slack"),
        ("https://events.pagerduty.com", f"{sink}/pagerduty"),
        ("http://hooks.internal.example", f"{sink}/hooks"),
        ("smtp.example.org:587", f"127.0.0.1:{smtp_port}"),
        # Alerts start when posted; Alertmanager flushes at once a group whose first alert is
        # older than group_wait, so the wait must outlast the POST on a loaded machine.
        ("group_wait: 30s", "group_wait: 3s"),
        ("group_interval: 5m", "group_interval: 1h"),
    ):
        assert old in text
        text = text.replace(old, new)
    folder = tmp_path / f"conf-{smtp_port}"
    shutil.copytree(SOURCE / "templates", folder / "templates")
    (folder / "alertmanager.yml").write_text(text)
    return folder / "alertmanager.yml"


def _alert(labels: dict[str, str], summary: str, start: float, end: float | None = None) -> Alert:
    # ``note`` reaches the default email's HTML (escaped there); the Slack templates print
    # ``description``: the watcher escapes values for Slack mrkdwn where Alertmanager does not
    # (README, Config), so text with < > & would differ there on purpose.
    annotations = {
        "summary": summary,
        "description": f"{summary}, see the runbook",
        "note": "<details> & 'more'",
        "runbook_url": f"https://runbooks.example.org/{labels['alertname'].lower()}",
    }
    url = f"http://prometheus.example.org/graph?g0.expr={labels['alertname']}&g0.tab=1"
    return Alert(labels, annotations, start, end, 1.0, url)


def _alerts(now: float) -> list[Alert]:
    s = float(int(now))  # whole seconds and .35 too: Go's JSON drops the fraction's zeros
    db = {"team": "db", "cluster": "prod-eu", "service": "postgres"}
    web = {"team": "frontend", "cluster": "prod-eu", "service": "web"}
    return [
        _alert({"alertname": "PostgresDown", "severity": "critical", "instance": "pg-1", **db}, "Postgres is down", s),
        _alert({"alertname": "PostgresDown", "severity": "critical", "instance": "pg-2", **db}, "Postgres is down", s, s + 0.5),
        # inhibited: a critical alert fires in the same cluster and service
        _alert({"alertname": "PostgresReplicationLag", "severity": "warning", "instance": "pg-3", **db}, "Replica lags", s),
        _alert({"alertname": "CephOSDDown", "severity": "warning", "team": "storage", "cluster": "prod-eu", "service": "ceph", "instance": "osd-7"}, "OSD 7 is down", s + 0.25),
        _alert({"alertname": "CanaryLatency", "severity": "warning", "team": "db", "cluster": "prod-us", "service": "canary-api", "instance": "c-1"}, "Canary is slow", s),
        _alert({"alertname": "HighErrorRate", "severity": "warning", "instance": "web-1", **web}, "5xx above 2%", s),
        _alert({"alertname": "HighErrorRate", "severity": "warning", "instance": "web-2", **web}, "5xx above 2%", s + 0.35),
        _alert({"alertname": "Watchdog", "severity": "none"}, "Always firing", s),
        _alert({"alertname": "DiskAlmostFull", "severity": "info", "team": "infra", "instance": "node-3"}, "Disk 91% full", s),
        # ClusterDown inhibits everything else in staging, but not itself
        _alert({"alertname": "ClusterDown", "severity": "critical", "cluster": "staging", "service": "k8s"}, "Staging unreachable", s),
        _alert({"alertname": "AppDown", "severity": "warning", "team": "frontend", "cluster": "staging", "service": "app"}, "App down", s),
    ]  # fmt: skip


def _http(requests: list[Request]) -> list[tuple[str, object]]:
    """(path, body): webhook bodies as JSON, the rest as text (their bytes are Go's)."""
    return sorted(
        (q.path, json.loads(q.body) if q.path.startswith("/hooks") else q.body.decode())
        for q in requests
    )


@needs_alertmanager
async def test_same_notifications_as_alertmanager(tmp_path: Path) -> None:
    """Slack, PagerDuty, webhook and email: the watcher sends what Alertmanager sends."""
    minute = datetime.now(UTC).hour * 60 + datetime.now(UTC).minute
    if minute < 2 or minute > 24 * 60 - 3:
        pytest.skip("the weekends interval (UTC) could change between the two runs")
    # PagerDuty twice (critical groups), team-db Slack three times, frontend Slack and webhook,
    # the default email (info) and the team-db email (ceph warning).
    expected_http, expected_mail = 7, 2
    if datetime.now(UTC).weekday() >= 5:  # frontend is muted on weekends
        expected_http -= 2
    am_sink, ours_sink = RawSink(), RawSink()
    async with serve(am_sink) as url, smtp_server(users=USERS) as am_mail:
        config = _copy(tmp_path, url, am_mail.port)
        now, batch = await through_alertmanager(
            config.parent,
            config.read_text(),
            _alerts,
            lambda: (
                len(am_sink.requests) >= expected_http and len(am_mail.received) >= expected_mail
            ),
            external_url=EXTERNAL_URL,
        )
    async with serve(ours_sink) as url, smtp_server(users=USERS) as ours_mail:
        path = _copy(tmp_path, url, ours_mail.port)
        cfg = parse_config(with_external_url(path.read_text(), EXTERNAL_URL), path)
        await through_watcher(tmp_path, cfg, batch, now, after=4)

    assert (expected_http, expected_mail) == (len(ours_sink.requests), len(ours_mail.received))
    assert _http(am_sink.requests) == _http(ours_sink.requests)

    def mails(received: list[object]) -> list[dict[str, object]]:
        return sorted((mail_shape(r) for r in received), key=lambda m: str(m["envelope"]))  # type: ignore[arg-type]

    assert mails(am_mail.received) == mails(ours_mail.received)  # type: ignore[arg-type]


ROUTE_CASES = [
    ["severity=critical", "team=db", "cluster=prod-eu", "service=postgres"],
    ["severity=warning", "team=storage", "service=ceph"],
    ["severity=warning", "team=db", "service=canary-api"],
    ["severity=warning", "team=frontend", "service=web"],
    ["alertname=Watchdog"],
    ["alertname=DiskAlmostFull", "severity=info"],
]


@needs_alertmanager
def test_amtool_routes_agree_on_config_original(tmp_path: Path) -> None:
    """``amtool config routes test`` finds the same receivers in the watcher's
    ``config.original`` (as /api/v2/status serves it) as in the original file."""
    amtool = shutil.which("amtool")
    assert amtool is not None
    shutil.copytree(SOURCE / "templates", tmp_path / "templates")
    original = tmp_path / "original.yml"
    original.write_text(alertmanager_yaml(load_config(SOURCE / "alertmanager.yml")))

    def receivers(config: Path, labels: list[str]) -> str:
        done = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}", *labels],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout.strip()

    theirs = [receivers(SOURCE / "alertmanager.yml", labels) for labels in ROUTE_CASES]
    ours = [receivers(original, labels) for labels in ROUTE_CASES]
    assert "pagerduty-critical,team-db-slack" == theirs[0]
    assert theirs == ours
