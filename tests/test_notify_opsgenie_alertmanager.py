"""Opsgenie requests byte-identical to the ones real Alertmanager 0.25 sends.

The same alerts go through a real ``prometheus-alertmanager`` (its ``opsgenie_configs``
``api_url`` pointed at a local sink) and through the watcher with the same config; every
request (method, path with query, body bytes) must be the same, and so must the
``Authorization`` header. Go's encoder sorts ``details``, so bytes are meaningful.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.am_sink import Request, differ, every_receiver, fan_out, run_both
from tests.am_support import needs_alertmanager

# One receiver per entry: its keys after api_url and api_key.
CREATE = [
    "send_resolved: true",
    """message: '{{ .CommonLabels.alertname }} on {{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}'
        description: '{{ .CommonAnnotations.summary }} <&>'
        details: {extra: '{{ len .Alerts }}', job: 'overridden {{ .Status }}'}
        tags: ' a,b, c,,{{ .CommonLabels.job }} '
        actions: 'restart,page'
        note: 'see {{ .ExternalURL }}'
        priority: '{{ if eq .CommonLabels.severity "critical" }}P1{{ else }}P3{{ end }}'
        entity: '{{ .GroupLabels.alertname }}'""",
    """update_alerts: true
        responders:
          - {name: ops, type: team}
          - {id: '{{ .CommonLabels.missing }}', type: '{{ .CommonLabels.missing }}'}
          - {name: 'a,b', type: teams}
          - {username: 'u@example.com', type: User}
          - {id: '{{ .CommonLabels.job }}-esc', type: escalation}""",
    """message: '{{ range .Alerts }}{{ .Annotations.long }}{{ end }}'
        description: ''
        source: 'src {{ .Receiver }}'""",
]


def _create_config(sink: str) -> str:
    configs = {
        f"o{i}": f"api_url: '{sink}/o{i}/'\n        api_key: 'key-{i}'\n        {keys}"
        for i, keys in enumerate(CREATE)
    }
    configs[f"o{len(CREATE)}"] = "{tags: x}"  # the global URL (a "/" is appended) and key
    return (
        f"global:\n  opsgenie_api_url: '{sink}/global'\n  opsgenie_api_key: global-key\n"
        + fan_out("opsgenie_configs", configs, group_interval="1s")
    )


def _auth(requests: list[Request]) -> list[tuple[str, str]]:
    return sorted((q.path.split("/")[1], q.headers["Authorization"]) for q in requests)


@needs_alertmanager
async def test_opsgenie_create_requests_are_byte_identical(tmp_path: Path) -> None:
    """Defaults, custom templates, responders, update_alerts, global URL and key."""
    expected = 2 * (len(CREATE) + 1) + 2 * 2  # update_alerts adds two PUTs per group
    theirs, ours = await run_both(tmp_path, _create_config, first=expected)
    assert expected == len(ours)
    assert [] == differ(theirs, ours)
    assert _auth(theirs) == _auth(ours)
    for q in ours:
        assert "application/json" == q.headers["Content-Type"]
    puts = sorted(q.path.rsplit("?", 1)[0].rsplit("/", 1)[1] for q in ours if q.method == "PUT")
    assert ["description", "description", "message", "message"] == puts
    assert {"GenieKey global-key"} == {
        q.headers["Authorization"] for q in ours if "/global/" in q.path
    }


def _close_config(sink: str) -> str:
    # One alert per group, so a group turns resolved in one step (see the PagerDuty test).
    return (
        every_receiver(["r0", "r1"], group_by="alertname, instance", group_interval="1s")
        + f"  - name: r0\n    opsgenie_configs:\n      - {{api_url: '{sink}/r0/', api_key: k0}}\n"
        f"  - name: r1\n    opsgenie_configs:\n      - api_url: '{sink}/r1/'\n        api_key: k1\n"
        "        update_alerts: true\n        source: '{{ .Status }} {{ .CommonLabels.instance }}'\n"
    )


@needs_alertmanager
async def test_opsgenie_close_requests_are_byte_identical(tmp_path: Path) -> None:
    """A resolved group closes the alert its create opened (alias = the group key's hash)."""
    # 3 firing groups: r0 creates, r1 creates and updates twice; then each closes once
    theirs, ours = await run_both(tmp_path, _close_config, first=3 + 9, then=6)
    assert 18 == len(ours)
    assert [] == differ(theirs, ours)
    for path in ("/r0/", "/r1/"):
        mine = [q for q in ours if q.path.startswith(path)]
        created = sorted(json.loads(q.body)["alias"] for q in mine if q.path == f"{path}v2/alerts")
        closed = sorted(q.path.split("/")[4] for q in mine if "/close?" in q.path)
        assert 3 == len(set(created))
        assert created == closed
