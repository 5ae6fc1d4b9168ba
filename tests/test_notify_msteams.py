"""Microsoft Teams: Alertmanager 0.27's MessageCard envelope, config, retries, the URL kept secret.

The texts are compared with what real Alertmanager renders in
test_notify_msteams_alertmanager.py; the envelope here follows 0.27's
``notify/msteams/msteams.go`` (``teamsMessage``: ``@context``, ``type``, ``title``,
``summary``, ``text``, ``themeColor``, none omitempty).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.notify_support import T0, Sink, coupon_alert, deliver, dispatching, only_problem, serve
from watcher.clock import FakeClock
from watcher.config import parse_config
from watcher.notify.amconfig import alertmanager_yaml
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.msteams import msteams_card

SECRET_PATH = "webhookb2/SECRET-0123-do-not-leak"


def _config(entry: str) -> str:
    return (
        "route: {receiver: teams, group_by: [alertname], group_wait: 0s}\n"
        "receivers:\n  - name: teams\n    msteams_configs:\n      - " + entry + "\n"
    )


def test_card_fields_order_and_colors_are_alertmanagers(tmp_path: Path) -> None:
    """The encoded card is 0.27's struct: every field present, red firing, green resolved."""
    cfg = parse_config(
        _config("{webhook_url: 'https://x.example/h', text: ''}"), tmp_path / "w.yaml"
    )
    c = cfg.receivers[0].msteams_configs[0]
    firing = NotificationData(
        "teams", "k", {"alertname": "A"}, (coupon_alert("1"),), "http://w", T0
    )
    assert (
        b'{"@context":"http://schema.org/extensions","type":"MessageCard",'
        b'"title":"[FIRING:1] A (1 warning coinw-main)",'
        b'"summary":"[FIRING:1] A (1 warning coinw-main)",'
        b'"text":"","themeColor":"8C1A1A"}\n'
    ) == encode(msteams_card(c, firing))
    gone = coupon_alert("1", ends=T0 - 1)
    resolved = NotificationData("teams", "k", {"alertname": "A"}, (gone,), "http://w", T0)
    assert "2DC72D" == msteams_card(c, resolved)["themeColor"]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{title: x}", "msteams_configs[0].webhook_url: is required (or webhook_url_file)"),
        ("{webhook_url: 'https://x', text: '{{ end }}'}", "msteams_configs[0].text: template: :1:"),
        ("{webhook_url: 'x.example'}", "expected an http(s) URL (value not shown: it is a secret)"),
        ("{webhook_url: 'https://x', summry: s}", 'summry: unknown key (did you mean "summary"?)'),
    ],
)
def test_config_problems_name_file_line_and_key(tmp_path: Path, entry: str, problem: str) -> None:
    """Each mistake is one problem with the YAML line and the key path, never the URL."""
    found = only_problem(_config(entry), tmp_path / "w.yaml")
    assert f"{tmp_path / 'w.yaml'}:5 receivers[0].msteams_configs[0]" in found
    assert problem in found
    assert "x.example" not in found


async def test_5xx_and_429_are_retried_and_the_url_stays_secret(tmp_path: Path) -> None:
    """500 and 429 are retried within a delivery; the URL is in no log, row or config.original."""
    async with serve(Sink(statuses=[500, 429])) as sink:
        (tmp_path / "teams-url").write_text(f"{sink.url}/{SECRET_PATH}\n")
        config = parse_config(_config("{webhook_url_file: teams-url}"), tmp_path / "w.yaml")
        clock = FakeClock(T0)
        async with dispatching(config, tmp_path / "w.db", clock) as d:
            with capture_logs() as logs:
                await deliver(d, clock, [coupon_alert("1")], 1)
    assert 3 == len(sink.requests)
    assert 1 == len(sink.accepted)
    assert f"/{SECRET_PATH}" == sink.requests[0]["path"]
    assert "MessageCard" == sink.accepted[0]["type"]
    assert SECRET_PATH not in repr(logs)
    assert SECRET_PATH.encode() not in (tmp_path / "w.db").read_bytes()
    original = alertmanager_yaml(config)
    assert SECRET_PATH not in original
    assert "msteams_configs" not in original  # Alertmanager 0.25's loader would refuse it
    assert "- name: teams" in original
