"""Reading Alertmanager's receivers (watcher/config/receivers.py and the checks beside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import ReceiverConfig, parse_config
from watcher.errors import ConfigError

_HEAD = "route: {receiver: r}\nreceivers:\n  - name: r\n"


def _receiver(tmp_path: Path, body: str, glob: str = "") -> ReceiverConfig:
    text = (f"global:\n{glob}" if glob else "") + _HEAD + body
    return parse_config(text, tmp_path / "w.yaml").receivers[0]


def _problems(tmp_path: Path, body: str, glob: str = "") -> list[str]:
    with pytest.raises(ConfigError) as err:
        _receiver(tmp_path, body, glob)
    return [p.replace(str(tmp_path), "D") for p in err.value.problems]


@pytest.mark.parametrize(
    ("kind", "entry"),
    [
        ("pagerduty_configs", "routing_key: k"),
        ("opsgenie_configs", "api_key: k"),
        ("msteams_configs", "webhook_url: 'https://t.example/x'"),
        ("telegram_configs", "bot_token: t, chat_id: 1"),
    ],
)
def test_an_entrys_own_http_config_is_used_over_the_global_one(
    tmp_path: Path, kind: str, entry: str
) -> None:
    """The entry's http_config (basic auth, timeout) replaces global.http_config."""
    body = f"    {kind}: [{{{entry}, http_config: {{basic_auth: {{username: u, password: p}}, timeout: 5s}}}}]\n"
    r = _receiver(tmp_path, body, "  http_config: {authorization: {credentials: global}}\n")
    (c,) = getattr(r, kind)
    assert (None, "u", "p", 5.0) == (
        c.http.bearer_token,
        c.http.basic_auth[0],
        c.http.basic_auth[1].get(),
        c.http.timeout,
    )


def test_a_check_spanning_keys_is_reported_with_every_other_problem_of_the_entry(
    tmp_path: Path,
) -> None:
    """No key at all, a broken template and a typo in one entry: three problems, each at its key."""
    body = "    pagerduty_configs:\n      - {description: '{{ if }}', severty: x}\n"
    problems = _problems(tmp_path, body)
    assert 3 == len(problems)
    assert {
        "D/w.yaml:5 receivers[0].pagerduty_configs[0]: "
        "missing service or routing key in PagerDuty config",
        "D/w.yaml:5 receivers[0].pagerduty_configs[0].description: "
        "template: :1: missing value for if",
        'D/w.yaml:5 receivers[0].pagerduty_configs[0].severty: unknown key (did you mean "severity"?)',
    } == set(problems)


def test_one_bad_global_key_does_not_hide_the_smtp_defaults(tmp_path: Path) -> None:
    """A bad evaluation_interval is one problem: the email entry still finds smtp_from/smarthost."""
    glob = "  evaluation_interval: soon\n  smtp_from: w@example.org\n  smtp_smarthost: 'mx:25'\n"
    problems = _problems(tmp_path, "    email_configs: [{to: a@example.org}]\n", glob)
    assert 1 == len(problems)
    assert "D/w.yaml:2 global.evaluation_interval: " in problems[0]


def test_email_entries_take_every_smtp_default_and_keep_their_own(tmp_path: Path) -> None:
    """Keys the entry leaves out (or empty) are global.smtp_*; the To/From headers follow."""
    glob = (
        "  smtp_from: g@example.org\n  smtp_smarthost: 'mx:25'\n  smtp_hello: gh\n"
        "  smtp_auth_password: gp\n  smtp_require_tls: false\n"
    )
    body = "    email_configs: [{to: a@example.org, hello: '', smarthost: '[::1]:587'}]\n"
    (c,) = _receiver(tmp_path, body, glob).email_configs
    assert ("g@example.org", ("::1", 587), "gh", "gp", False) == (
        c.from_,
        c.smarthost,
        c.hello,
        c.auth_password.get() if c.auth_password else None,
        c.require_tls,
    )
    assert {"To": "a@example.org", "From": "g@example.org"} == {
        k: c.headers[k] for k in ("To", "From")
    }


def test_a_bad_global_smarthost_is_reported_at_the_global_key(tmp_path: Path) -> None:
    """An entry without its own smarthost that takes a malformed global one: one problem, there."""
    glob = "  smtp_from: w@example.org\n  smtp_smarthost: nope\n"
    assert [
        'D/w.yaml:3 global.smtp_smarthost: expected host:port like smtp.example.com:587, got "nope"'
    ] == _problems(tmp_path, "    email_configs: [{to: a@example.org}]\n", glob)


def test_global_receiver_keys_get_did_you_mean(tmp_path: Path) -> None:
    """A typo in a global receiver key names the key it is close to."""
    problems = _problems(tmp_path, "    console_configs: [{}]\n", "  opsgenie_api_keyfile: k\n")
    assert [
        'D/w.yaml:2 global.opsgenie_api_keyfile: unknown key (did you mean "opsgenie_api_key_file"?)'
    ] == problems
