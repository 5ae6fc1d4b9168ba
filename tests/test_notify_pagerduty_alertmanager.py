"""PagerDuty events byte-identical to the ones real Alertmanager 0.25 sends.

The same alerts go through a real ``prometheus-alertmanager`` (its ``pagerduty_configs``
``url`` pointed at a local sink) and through the watcher with the same config; every event
must be the same bytes (Go's encoder sorts ``custom_details``, so bytes are meaningful).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.am_sink import differ, every_receiver, fan_out, run_both
from tests.am_support import needs_alertmanager

TEMPLATES = r"""
{{ define "pd.summary" }}{{ .CommonLabels.alertname }}: {{ len .Alerts.Firing }} firing on {{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}{{ end }}
{{ define "pagerduty.default.client" }}Watcher-compatible client{{ end }}
"""

# One receiver per entry: its keys after url and routing_key.
TRIGGER = [
    "send_resolved: true",
    """description: '{{ template "pd.summary" . }}'
        severity: '{{ if eq .CommonLabels.severity "critical" }}critical{{ else }}warning{{ end }}'
        class: '{{ .CommonLabels.job }}'
        component: 'comp-{{ .GroupLabels.alertname }}'
        group: ''
        source: '{{ .CommonLabels.job }}.example'""",
    """details: {firing: '{{ range .Alerts.Firing }}{{ .Labels.instance }},{{ end }}', extra: '{{ .CommonAnnotations.summary }} <&>', num_firing: ''}
        images: [{src: 'https://img.example/{{ .Status }}.png', alt: 'graph of {{ .GroupLabels.alertname }}', href: '{{ .ExternalURL }}'}, {src: '', alt: 'dropped'}]
        links: [{href: '{{ .CommonAnnotations.runbook_url }}', text: 'Runbook'}, {href: 'https://x.example/{{ len .Alerts }}'}, {text: 'no href'}]""",
    """client: 'cl {{ .Receiver }}'
        client_url: '{{ .ExternalURL }}/custom'
        description: '{{ range .Alerts }}{{ .Annotations.long }}{{ end }}'""",
    """severity: info
        description: '{{ .Alerts.Firing | len }} {{ .CommonLabels.Remove (stringSlice "alertname") }}'
        source: ''""",
]


def _trigger_config(sink: str, key_file: Path) -> str:
    configs = {
        f"p{i}": f"url: '{sink}/p{i}'\n        routing_key: 'key-{i}'\n        {keys}"
        for i, keys in enumerate(TRIGGER)
    }
    # the global URL and a key file
    configs[f"p{len(TRIGGER)}"] = (
        f"routing_key_file: '{key_file}'\n        severity: '{{{{ .Status }}}}'"
    )
    return f"global:\n  pagerduty_url: '{sink}/global'\ntemplates: ['*.tmpl']\n" + fan_out(
        "pagerduty_configs", configs, group_interval="1s"
    )


@needs_alertmanager
async def test_pagerduty_trigger_events_are_byte_identical(tmp_path: Path) -> None:
    """Defaults, custom templates, details, images, links, global URL: Alertmanager's bytes."""
    # absolute: Alertmanager 0.25 reads a relative key file from its working directory
    key_file = tmp_path / "key.txt"
    key_file.write_text("key-from-file\n")
    receivers = len(TRIGGER) + 1
    theirs, ours = await run_both(
        tmp_path,
        lambda sink: _trigger_config(sink, key_file),
        first=2 * receivers,
        template_file=TEMPLATES,
    )
    assert 2 * receivers == len(ours)
    assert [] == differ(theirs, ours)
    for q in ours:
        assert ("POST", "application/json") == (q.method, q.headers["Content-Type"])
    first = json.loads(next(q for q in ours if q.path == "/p0").body)
    assert "trigger" == first["event_action"]
    assert {q.path for q in ours} >= {"/global"}
    assert {"key-from-file"} == {
        json.loads(q.body)["routing_key"] for q in ours if q.path == "/global"
    }


def _resolve_config(sink: str) -> str:
    # One alert per group, so a group turns resolved in one step (a multi-alert group could
    # be flushed half-updated by Alertmanager while the resolved batch is being inserted).
    return (
        every_receiver(["r0", "r1"], group_by="alertname, instance", group_interval="1s")
        + f"  - name: r0\n    pagerduty_configs:\n      - {{url: '{sink}/r0', routing_key: k0}}\n"
        f"  - name: r1\n    pagerduty_configs:\n      - url: '{sink}/r1'\n        routing_key: k1\n"
        "        severity: '{{ .CommonLabels.severity }}'\n"
        "        links: [{href: '{{ .ExternalURL }}/{{ .Status }}', text: '{{ .Status }}'}]\n"
    )


@needs_alertmanager
async def test_pagerduty_resolve_events_are_byte_identical(tmp_path: Path) -> None:
    """Resolving alerts sends resolve events with the trigger's dedup_key, as Alertmanager."""
    # 3 firing groups (the alert resolved before the first flush is never sent) x 2 receivers
    theirs, ours = await run_both(tmp_path, _resolve_config, first=6, then=6)
    assert 12 == len(ours)
    assert [] == differ(theirs, ours)
    for path in ("/r0", "/r1"):
        events = [json.loads(q.body) for q in ours if q.path == path]
        trigger = sorted(e["dedup_key"] for e in events if e["event_action"] == "trigger")
        resolve = sorted(e["dedup_key"] for e in events if e["event_action"] == "resolve")
        assert 3 == len(set(trigger))
        assert trigger == resolve
