"""Microsoft Teams cards: the texts real Alertmanager renders, the envelope of its 0.27 notifier.

Alertmanager 0.25 (the Debian package here) has no Teams receiver: it came in 0.26, and 0.27
added ``summary``. So the oracle is split. The texts: real Alertmanager 0.25 renders 0.27's
``msteams.default.*`` templates (given to it as a template file, below) through a Slack
receiver pointed at a local sink, and the watcher's Teams cards must carry the same
``title``, ``summary`` and ``text`` strings, for the defaults and for custom templates. The
envelope (``@context``, ``type``, ``themeColor``, field order) is checked against 0.27's
``notify/msteams/msteams.go`` in test_notify_msteams.py. The Slack body and the card differ in
shape, so the strings are compared after JSON decoding.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.am_sink import Request, every_receiver, run_both
from tests.am_support import needs_alertmanager

# Alertmanager v0.27.0 template/default.tmpl (Apache License 2.0), its Teams definitions
# verbatim: the oracle the watcher's own reimplementation (watcher/gotemplate/am_defaults.py)
# is compared with, loaded into Alertmanager 0.25 only.
UPSTREAM_0_27 = r"""{{ define "__text_alert_list_markdown" }}{{ range . }}
Labels:
{{ range .Labels.SortedPairs }}  - {{ .Name }} = {{ .Value }}
{{ end }}
Annotations:
{{ range .Annotations.SortedPairs }}  - {{ .Name }} = {{ .Value }}
{{ end }}
Source: {{ .GeneratorURL }}
{{ end }}
{{ end }}

{{ define "msteams.default.summary" }}{{ template "__subject" . }}{{ end }}
{{ define "msteams.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "msteams.default.text" }}
{{ if gt (len .Alerts.Firing) 0 }}
# Alerts Firing:
{{ template "__text_alert_list_markdown" .Alerts.Firing }}
{{ end }}
{{ if gt (len .Alerts.Resolved) 0 }}
# Alerts Resolved:
{{ template "__text_alert_list_markdown" .Alerts.Resolved }}
{{ end }}
{{ end }}
"""

# (title, summary, text) per receiver; None = the default.
RECEIVERS: list[tuple[str | None, str | None, str | None]] = [
    (None, None, None),
    (
        "{{ .CommonLabels.alertname }} ({{ len .Alerts.Firing }})",
        '{{ .Status | toUpper }} {{ .GroupLabels.SortedPairs.Values | join " " }}',
        "{{ range .Alerts }}**{{ .Labels.instance }}** {{ .Annotations.summary }}\\n{{ end }}",
    ),
]


def _am_config(sink: str) -> str:
    """Slack receivers whose title / pretext / text are the Teams templates."""

    def slack(i: int, keys: tuple[str | None, str | None, str | None]) -> str:
        t, s, x = (
            k or f'{{{{ template "msteams.default.{n}" . }}}}'
            for k, n in zip(keys, ("title", "summary", "text"), strict=True)
        )
        return (
            f"  - name: t{i}\n    slack_configs:\n      - api_url: '{sink}/t{i}'\n"
            f"        send_resolved: true\n        title: '{t}'\n        pretext: '{s}'\n"
            f"        text: '{x}'\n        fallback: ''\n        title_link: ''\n"
        )

    return (
        "templates: ['*.tmpl']\n" + _route() + "".join(slack(i, k) for i, k in enumerate(RECEIVERS))
    )


def _watcher_config(sink: str) -> str:
    def teams(i: int, keys: tuple[str | None, str | None, str | None]) -> str:
        lines = "".join(
            f"        {n}: '{k}'\n"
            for k, n in zip(keys, ("title", "summary", "text"), strict=True)
            if k
        )
        return f"  - name: t{i}\n    msteams_configs:\n      - webhook_url: '{sink}/t{i}'\n{lines}"

    return _route() + "".join(teams(i, k) for i, k in enumerate(RECEIVERS))


def _route() -> str:
    names = [f"t{i}" for i in range(len(RECEIVERS))]
    return every_receiver(names, group_by="alertname, instance", group_interval="1s")


def _texts(requests: list[Request], keys: tuple[str, str, str]) -> list[tuple[str, ...]]:
    out = []
    for q in requests:
        body: dict[str, Any] = json.loads(q.body)
        part = body["attachments"][0] if "attachments" in body else body
        out.append((q.path, *(part.get(k, "") for k in keys)))
    return sorted(out)


@needs_alertmanager
async def test_teams_titles_summaries_and_texts_are_alertmanagers(tmp_path: Path) -> None:
    """Firing and resolved cards carry the strings Alertmanager renders from 0.27's templates."""
    # one alert per group (see the PagerDuty test): 3 firing groups x 2, then 3 resolved x 2
    theirs, ours = await run_both(
        tmp_path,
        _am_config,
        first=6,
        then=6,
        template_file=UPSTREAM_0_27,
        watcher_config=_watcher_config,
    )
    assert 12 == len(ours)
    assert _texts(theirs, ("title", "pretext", "text")) == _texts(
        ours, ("title", "summary", "text")
    )
    colors = sorted(json.loads(q.body)["themeColor"] for q in ours)
    assert ["2DC72D"] * 6 + ["8C1A1A"] * 6 == colors
