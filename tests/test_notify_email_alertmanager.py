"""Mail the same as real Alertmanager's: envelope, headers, MIME structure and bodies.

A real ``prometheus-alertmanager`` and the watcher's dispatcher, with the same receivers,
mail the same alerts to one aiosmtpd server (STARTTLS with a test CA, AUTH); per receiver the
envelope, the headers that matter (Subject, To, From, Content-Type, MIME-Version), the parts'
types and encodings and the decoded ``email.default.html`` / text bodies must be equal.
Message-Id, Date and the multipart boundary are random or clock-bound on both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.am_sink import (
    coupons,
    fan_out,
    through_alertmanager,
    through_watcher,
    with_external_url,
)
from tests.am_support import needs_alertmanager
from tests.pki import make_pki
from tests.smtp_support import Received, mail_shape, smtp_server
from watcher.alerts import Alert
from watcher.config import parse_config

TEMPLATE_FILE = r"""
{{ define "mail.subject" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ len .Alerts }}){{ end }}
{{ define "mail.html" }}<html><head><title>{{ .CommonLabels.alertname }}</title></head><body>
<!-- internal note: {{ .Receiver }} -->
<h1 class="{{ .Status }}">{{ .CommonAnnotations.summary }}</h1>
<ul>{{ range .Alerts }}<li><a href="{{ .GeneratorURL }}" title="{{ .Labels.instance }}">{{ .Labels.instance }}</a> {{ .Annotations.description }}</li>{{ end }}</ul>
<a href="{{ .ExternalURL }}/#/silences/new?filter={{ .CommonLabels.alertname | urlquery }}">silence</a>
<p>{{ safeHtml "<b>bold</b>" }} {{ "<i>" | html }}</p>
</body></html>{{ end }}
"""
# The keys of each receiver's one email_configs entry, after ``to``.
RECEIVERS = [
    "send_resolved: true",
    """text: '{{ template "__text_alert_list" .Alerts }}'
        headers: {subject: '{{ template "mail.subject" . }}', X-Team: 'ops {{ .CommonLabels.job }}', reply-to: 'noc@example.org'}""",
    """html: '{{ template "mail.html" . }}'
        text: 'plain: {{ .CommonAnnotations.summary }}'""",
    """html: ''
        text: '{{ range .Alerts }}{{ .Labels.instance }} {{ .Status }} {{ .Annotations.long }}{{ "\\n" }}{{ end }}'
        headers: {Subject: 'Ünïcödé {{ .Status }} {{ .CommonAnnotations.long }}'}""",
    """from: 'Ops Bot <bot-{{ .CommonLabels.job }}@example.org>'
        headers: {To: 'Ops list <list@example.org>'}""",
]


def _config(sink_port: int, ca: Path) -> str:
    configs = {
        f"mail {i}": f"to: 'ops{i}@example.org, Bob <bob{i}@example.org>'\n"
        f"        tls_config: {{ca_file: '{ca}'}}\n        {keys}"
        for i, keys in enumerate(RECEIVERS)
    }
    return (
        "global:\n"
        f"  smtp_smarthost: '127.0.0.1:{sink_port}'\n"
        "  smtp_from: 'Alertmanager <am@example.org>'\n"
        "  smtp_hello: 'watcher.test'\n"
        "  smtp_auth_username: alice\n"
        "  smtp_auth_password: 'pa ss+word'\n"
        "templates: ['*.tmpl']\n" + fan_out("email_configs", configs)
    )


def _alerts(now: float) -> list[Alert]:
    long = "é" * 90 + " = ? _ end"
    common = {"summary": "Coupon <expiring> & 'soon' +1 ☃", "long": long}
    notes = [
        {**common, "description": "first\nline two"},
        {**common, "description": "second"},
        {**common, "description": "gone"},
    ]
    urls = [
        "http://prom.example/graph?g0.expr=up%20%3D%3D%201&g0.tab=1",
        "javascript:alert(1)",
        "http://prom.example/graph?g0.expr=x y",
    ]
    return coupons(now, notes, urls, instances=("i-1 <a&b>", "i-2 'q'", "i-3"))


@needs_alertmanager
async def test_mail_matches_alertmanagers(tmp_path: Path) -> None:
    """Five email configs (defaults, custom headers, HTML file template, text only, templated
    From): the watcher's mail equals Alertmanager's in envelope, headers, parts and bodies."""
    (tmp_path / "mail.tmpl").write_text(TEMPLATE_FILE)
    pki = make_pki(tmp_path / "pki")
    users = {"alice": "pa ss+word"}
    async with smtp_server(pki, users, require_starttls=True) as am_sink:
        now, alerts = await through_alertmanager(
            tmp_path,
            _config(am_sink.port, pki.ca),
            _alerts,
            lambda: len(am_sink.received) >= len(RECEIVERS),
        )
    async with smtp_server(pki, users, require_starttls=True) as ours_sink:
        text = with_external_url(_config(ours_sink.port, pki.ca))
        await through_watcher(tmp_path, parse_config(text, tmp_path / "watcher.yaml"), alerts, now)

    def by_to(received: list[Received]) -> list[dict[str, Any]]:
        return sorted((mail_shape(r) for r in received), key=lambda s: s["envelope"][1])

    assert len(RECEIVERS) == len(ours_sink.received)
    theirs, ours = by_to(am_sink.received), by_to(ours_sink.received)
    for t, o in zip(theirs, ours, strict=True):
        assert t == o
