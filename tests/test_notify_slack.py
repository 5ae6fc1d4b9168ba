"""The Slack notifier: Alertmanager's keys and templates, checked at load, text kept as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Writer
from tests.notify_support import T0
from watcher.alerts import Alert
from watcher.cli import main
from watcher.config import Secret, SlackConfig, SlackField, parse_config
from watcher.errors import ConfigError
from watcher.gotemplate.alertmanager import load_templates
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.slack import slack_payload

HOSTILE = "<!channel> <https://evil.example|Re-verify KYC now> & <@U024BE7LH>"


def _data(coupon: str = "42") -> NotificationData:
    alert = Alert(
        {"alertname": "CouponExpiring", "coupon_id": coupon},
        {"summary": f"Coupon {coupon} expires", "runbook_url": "https://rb.example/?a=1&b=2"},
        T0,
        None,
        1.0,
    )
    return NotificationData(
        "oncall", "k", {"alertname": "CouponExpiring"}, (alert,), "http://w", T0
    )


def test_upstream_text_cannot_ping_or_link_in_slack() -> None:
    """A label value with <!channel>, a link and a user mention arrives as inert text."""
    config = SlackConfig(
        api_url=Secret("https://hooks.example/x"),
        title="{{ .CommonLabels.coupon_id }}",
        text="{{ range .Alerts }}{{ .Labels.coupon_id }} <{{ .Annotations.runbook_url }}|runbook>{{ end }}",
    )
    attachment = slack_payload(config, _data(HOSTILE))["attachments"][0]
    inert = (
        "&lt;!channel&gt; &lt;https://evil.example|Re-verify KYC now&gt; &amp; &lt;@U024BE7LH&gt;"
    )
    assert (inert, f"{inert} <https://rb.example/?a=1&amp;b=2|runbook>") == (
        attachment["title"],
        attachment["text"],
    )
    default_text = slack_payload(SlackConfig(api_url=Secret("https://h.example")), _data(HOSTILE))
    assert "<!channel>" not in default_text["attachments"][0]["text"]


def test_fields_and_short_default_follow_alertmanager() -> None:
    """fields render their templates; short falls back to short_fields, as upstream."""
    config = SlackConfig(
        api_url=Secret("https://hooks.example/x"),
        short_fields=True,
        fields=(
            SlackField(title="Coupon", value="{{ .CommonLabels.coupon_id }}"),
            SlackField(title="Count", value="{{ len .Alerts }}", short=False),
        ),
    )
    fields = slack_payload(config, _data())["attachments"][0]["fields"]
    assert [
        {"title": "Coupon", "value": "42", "short": True},
        {"title": "Count", "value": "1", "short": False},
    ] == fields


def test_body_is_encoded_as_gos_json_encoder_writes_it() -> None:
    """Compact, UTF-8, HTML characters escaped, trailing newline (json.NewEncoder)."""
    assert b'{"a":"\\u003cb\\u003e \\u0026 caf\xc3\xa9","b":[true,null]}\n' == encode(
        {"a": "<b> & café", "b": [True, None]}
    )
    assert {"a": "<b> & café"} == json.loads(encode({"a": "<b> & café"}))


def test_a_broken_template_is_a_config_error_naming_file_line_and_key(tmp_path: Path) -> None:
    """Go's parse error, at load, with the YAML line and key path."""
    text = (
        "route: {receiver: s}\n"
        "receivers:\n"
        "  - name: s\n"
        "    slack_configs:\n"
        "      - api_url: https://hooks.example/x\n"
        "        title: '{{ range .Alerts }}'\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, tmp_path / "w.yaml")
    assert [
        f"{tmp_path / 'w.yaml'}:6 receivers[0].slack_configs[0].title: template: :1: unexpected EOF"
    ] == err.value.problems


def test_template_files_are_parsed_and_can_override_defaults(write: Writer) -> None:
    """A templates: file defines names (and replaces a default); a broken file fails check."""
    write("t/ok.tmpl", '{{ define "slack.default.title" }}custom {{ .Status }}{{ end }}')
    path = write(
        "w.yaml",
        "templates: ['t/*.tmpl']\nroute: {receiver: s}\n"
        "receivers: [{name: s, slack_configs: [{api_url: 'https://hooks.example/x'}]}]\n",
    )
    config = parse_config(Path(path).read_text(), Path(path))
    payload = slack_payload(
        config.receivers[0].slack_configs[0],
        _data(),
        load_templates(config.templates, Path(path).parent),
    )
    assert "custom firing" == payload["attachments"][0]["title"]
    write("t/bad.tmpl", '{{ define "x" }}{{ if }}{{ end }}')
    assert 1 == main(["check", "-c", str(path)])
    with pytest.raises(ConfigError) as err:
        parse_config(Path(path).read_text(), Path(path))
    assert [
        f"{path}:1 templates: {write.root / 't' / 'bad.tmpl'}: template: bad.tmpl:1: missing value for if"
    ] == err.value.problems
