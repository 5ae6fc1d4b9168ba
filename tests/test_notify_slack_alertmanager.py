"""Slack bodies byte-identical to real Alertmanager's, for its defaults and custom templates.

The same alerts go through a real ``prometheus-alertmanager`` (its ``slack_configs`` pointed at
a local sink) and through the watcher's dispatcher with the same receivers, routes and
template file; every receiver's body must be the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.am_sink import balance, coupons, differ, fan_out, run_both
from tests.am_support import needs_alertmanager
from watcher.alerts import Alert

TEMPLATE_FILE = r"""
{{ define "custom.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} for {{ .CommonLabels.job }}{{ end }}
{{ define "custom.text" }}{{ range .Alerts }}*Alert:* {{ .Annotations.summary }}{{ if .Labels.severity }} - `{{ .Labels.severity }}`{{ end }}
*Description:* {{ .Annotations.description }}
*Details:*
{{ range .Labels.SortedPairs }} • *{{ .Name }}:* `{{ .Value }}`
{{ end }}{{ end }}{{ end }}
{{ define "slack.default.footer" }}footer from a template file{{ end }}
"""

# One receiver per entry: the Slack keys after api_url. r0 is Alertmanager's defaults (text
# set to its default explicitly: the watcher's own default text is richer).
RECEIVERS = [
    """text: '{{ template "slack.default.text" . }}'""",
    """title: '{{ template "custom.title" . }}'
        text: '{{ template "custom.text" . }}'""",
    """title: '{{ .GroupLabels.SortedPairs.Values | join " " }}'
        text: '{{ .CommonAnnotations.SortedPairs.Names | join "," }}'""",
    """text: '{{ range $i, $a := .Alerts }}{{ $i }}:{{ $a.Fingerprint }} {{ $a.Status }} {{ $a.StartsAt }}{{ "\\n" }}{{ end }}'""",
    """color: '{{ if eq .Status "firing" }}{{ if eq .CommonLabels.severity "critical" }}danger{{ else }}warning{{ end }}{{ else }}good{{ end }}'
        text: '{{ len .Alerts.Firing }} firing, {{ len .Alerts.Resolved }} resolved'""",
    """pretext: '{{ .Receiver }} {{ .ExternalURL }}'
        text: '{{ with .CommonLabels.missing }}has{{ else }}none{{ end }}'""",
    """fields:
          - {title: Severity, value: '{{ .CommonLabels.severity }}', short: true}
          - {title: Alerts, value: '{{ len .Alerts }}'}
        text: ''""",
    """actions:
          - {type: button, text: 'Runbook {{ .CommonLabels.alertname }}', url: '{{ .CommonAnnotations.runbook_url }}', style: primary}
          - type: button
            text: Silence
            url: '{{ .ExternalURL }}/#/silences/new'""",
    """username: 'bot-{{ .CommonLabels.job }}'
        icon_emoji: ':fire:'
        channel: '#alerts-{{ .CommonLabels.job }}'
        link_names: true""",
    """icon_url: 'https://example.com/{{ .Status }}.png'
        mrkdwn_in: [text, pretext]
        callback_id: 'cb-{{ .CommonLabels.alertname }}'""",
    """title_link: '{{ .ExternalURL }}/alerts?g={{ .GroupLabels.alertname | urlquery }}'
        footer: '{{ .CommonLabels.job | toUpper }}'""",
    """text: '{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}|{{ range .Alerts.Resolved }}{{ .Labels.instance }}{{ else }}none{{ end }}'""",
    """text: '{{ define "loc" }}<{{ . }}>{{ end }}{{ template "loc" .Status }}{{ block "blk" .Receiver }}[{{ . }}]{{ end }}'""",
    """text: '{{ $n := len .Alerts }}{{ if gt $n 2 }}many{{ else if eq $n 1 }}one{{ else }}few{{ end }} {{ printf "%03d|%5.2f|%q|%v" $n 3.14159 .Status .GroupLabels }}'""",
    """text: '{{ .CommonLabels.Remove (stringSlice "alertname" "job") }} {{ .CommonLabels.Names }} {{ .GroupLabels.Values }}'""",
    """text: '{{ title "hello wORLD" }} {{ toLower "ABC" }} {{ reReplaceAll "i-([0-9]+)" "host$1" "i-42 i-7" }} {{ match "^i-" "i-1" }}'""",
    """text: '{{ range .Alerts }}{{ .StartsAt.Format "2006-01-02 15:04:05" }} {{ .GeneratorURL }}{{ "\\n" }}{{ end }}'""",
    """text: '{{ range .Alerts }}{{ range $k, $v := .Annotations }}{{ $k }}={{ $v }};{{ end }}{{ end }}'""",
    """text: '{{ template "__text_alert_list" .Alerts.Firing }}'""",
    """text: '{{ template "__subject" . }} / {{ template "__alertmanagerURL" . }} / {{ template "__alertmanager" . }}'""",
    """text: '{{ range .Alerts }}{{ if and (eq .Labels.severity "critical") (ne .Status "resolved") }}!{{ else }}.{{ end }}{{ end }} {{ or .CommonLabels.nope "dflt" }} {{ not false }}'""",
    """text: '{{ (index .Alerts 0).Labels.instance }} {{ index .CommonLabels "job" }} {{ .Alerts | len }}'""",
    """text: '{{ .Status | printf "%s!" }} {{ "x" | printf "%s-%s" "y" }} {{ print 1 2 "a" }} {{ println "b" }}'""",
    """text: '{{ .Alerts.Firing | len }} {{ .CommonAnnotations.summary | toUpper }} {{ safeHtml "<b>" }} & more'""",
    """title: '{{ range .Alerts }}{{ .Annotations.long }}{{ end }}'""",
    """text: '{{ .Alerts.Resolved }}' """,
    """text: '{{ range .Alerts }}{{ .Status }}{{ end }} {{ .Receiver | len }}'""",
]


def _keys(keys: str) -> str:
    """A receiver's keys; without ``text`` it gets Alertmanager's (empty) default text."""
    if keys.startswith("text:") or "\n        text:" in keys:
        return keys
    return keys + """\n        text: '{{ template "slack.default.text" . }}'"""


def _config(sink_url: str) -> str:
    configs = {
        f"r{i}": f"api_url: '{sink_url}/r{i}'\n        send_resolved: true\n        {_keys(keys)}"
        for i, keys in enumerate(RECEIVERS)
    }
    return "templates: ['*.tmpl']\n" + fan_out("slack_configs", configs)


def _alerts(now: float) -> list[Alert]:
    long = "é" * 600
    common = {"summary": "Coupon expiring ☃", "runbook_url": "https://runbooks.example/c?x=1"}
    notes = [
        {**common, "description": "first", "long": long},
        {**common, "description": "second", "long": long},
        {**common, "description": "gone"},
    ]
    return [*coupons(now, notes, ["http://prom.example/graph?g0.expr=up"] * 3), balance(now)]


def _ok() -> web.Response:
    return web.Response(text="ok")  # what Slack's incoming webhooks answer


@needs_alertmanager
async def test_slack_bodies_are_byte_identical_to_alertmanagers(tmp_path: Path) -> None:
    """Default and 26 custom Slack configs: the watcher's bodies equal Alertmanager's bytes."""
    theirs, ours = await run_both(
        tmp_path,
        _config,
        first=2 * len(RECEIVERS),
        template_file=TEMPLATE_FILE,
        make_alerts=_alerts,
        reply=_ok,
    )
    assert 2 * len(RECEIVERS) == len(ours)
    assert [] == differ(theirs, ours)
