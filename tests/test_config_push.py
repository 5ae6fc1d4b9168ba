"""``push:`` of a Mega Coupon source: defaults, every key, and each mistake with its line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Writer
from watcher.config import CoinwCouponConfig, load_config
from watcher.config.model import PUSH_DEFAULT_LOGIN, Secret
from watcher.config.push import PushConfig
from watcher.errors import ConfigError

SOURCE = "sources:\n  - name: a\n    type: coinw_mega_coupon\n    api_key: k\n    secret_key: s\n"


def coupon(write: Writer, push: str) -> CoinwCouponConfig:
    cfg = load_config(write("w.yaml", SOURCE + push), {"PP": "from-env"}).sources[0]
    assert isinstance(cfg, CoinwCouponConfig)
    return cfg


def test_push_is_off_unless_enabled(write: Writer) -> None:
    """No ``push`` key, or one without ``enabled``, means no WebSocket; defaults as documented."""
    assert PushConfig() == coupon(write, "").push
    off = coupon(write, "    push: {url: 'wss://ws.example/perpum'}\n").push
    assert (False, "wss://ws.example/perpum") == (off.enabled, off.url)
    d = PushConfig()
    assert ("wss://ws.futurescw.com/perpum", 5.0, 5.0, 1.0, 60.0, 5, 1024 * 1024) == (
        d.url,
        d.ping_interval,
        d.pong_timeout,
        d.min_backoff,
        d.max_backoff,
        d.bad_frame_limit,
        d.max_frame_size,
    )
    assert {"event": "login", "params": {"api_key": "<api_key>", "passphrase": "<secret_key>"}} == (
        json.loads(PUSH_DEFAULT_LOGIN)
    )


def test_every_key_is_read(write: Writer) -> None:
    """Each documented key lands in the config."""
    push = coupon(
        write,
        "    push:\n"
        "      enabled: true\n"
        "      url: ws://127.0.0.1:9800/perpum\n"
        "      ping_interval: 10s\n"
        "      pong_timeout: 3s\n"
        "      login: {op: login, args: ['<api_key>', '<passphrase>']}\n"
        "      passphrase: ${PP}\n"
        "      max_frame_size: 64KiB\n"
        "      min_backoff: 500ms\n"
        "      max_backoff: 2m\n"
        "      bad_frame_limit: 3\n",
    ).push
    assert (
        PushConfig(
            enabled=True,
            url="ws://127.0.0.1:9800/perpum",
            ping_interval=10.0,
            pong_timeout=3.0,
            login=json.dumps({"op": "login", "args": ["<api_key>", "<passphrase>"]}),
            passphrase=Secret("from-env"),
            max_frame_size=64 * 1024,
            min_backoff=0.5,
            max_backoff=120.0,
            bad_frame_limit=3,
        )
        == push
    )
    assert "from-env" not in repr(push)


@pytest.mark.parametrize(
    ("push", "expected"),
    [
        (
            "    push: {enabled: true, ping_intervall: 5s}\n",
            'w.yaml:6 sources[0].push.ping_intervall: unknown key (did you mean "ping_interval"?)',
        ),
        (
            "    push: {enabled: yes please}\n",
            'w.yaml:6 sources[0].push.enabled: expected true or false, got "yes please"',
        ),
        (
            "    push: {url: 'https://ws.example/perpum'}\n",
            'w.yaml:6 sources[0].push.url: expected a ws:// or wss:// URL, got "https://ws.example/perpum"',
        ),
        (
            "    push: {ping_interval: 5s, pong_timeout: 6s}\n",
            "w.yaml:6 sources[0].push.pong_timeout: must be at most ping_interval (5s)",
        ),
        (
            "    push: {min_backoff: 10s, max_backoff: 5s}\n",
            "w.yaml:6 sources[0].push.max_backoff: must be at least min_backoff (10s)",
        ),
        (
            "    push: {login: {event: login}}\n",
            'w.yaml:6 sources[0].push.login: must hold "<api_key>" as a value (where the API key goes)',
        ),
        (
            "    push: {login: 'event=login'}\n",
            "w.yaml:6 sources[0].push.login: expected a mapping (the login frame, as YAML)",
        ),
        (
            "    push: {max_frame_size: huge}\n",
            'w.yaml:6 sources[0].push.max_frame_size: expected a size like 32MiB or 512KB, got "huge"',
        ),
        (
            "    push: {bad_frame_limit: 0}\n",
            "w.yaml:6 sources[0].push.bad_frame_limit: must be at least 1, got 0",
        ),
        (
            "    push: [on]\n",
            "w.yaml:6 sources[0].push: expected a mapping, got a list",
        ),
    ],
)
def test_each_push_mistake_names_file_line_and_key(write: Writer, push: str, expected: str) -> None:
    """A bad push key is one line with file, line and key path; the secret is never quoted."""
    path = write("w.yaml", SOURCE + push)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    problems = [p.replace(str(path.parent) + "/", "") for p in info.value.problems]
    assert [expected] == problems


def test_push_on_two_sources_with_one_key_is_refused(write: Writer) -> None:
    """One WebSocket per API key: the second source enabling push on the same key is named."""
    two = (
        "sources:\n"
        "  - {name: a, type: coinw_mega_coupon, api_key: k, secret_key: s, push: {enabled: true}}\n"
        "  - {name: b, type: coinw_mega_coupon, api_key: k, secret_key: s,\n"
        "     statuses: [used], push: {enabled: true}}\n"
        "  - {name: c, type: coinw_mega_coupon, api_key: other, secret_key: s,\n"
        "     push: {enabled: true}}\n"
    )
    path = write("w.yaml", two)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    problems = [p.replace(str(path.parent) + "/", "") for p in info.value.problems]
    assert [
        'w.yaml:4 sources[1].push.enabled: push is already enabled on source "a" with the same'
        " api_key (one WebSocket per API key)"
    ] == problems
