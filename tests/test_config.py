"""Loading the config file: docs/product.md's example loads; every mistake is reported with its line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Writer
from watcher.config import (
    CoinwCouponConfig,
    CoinwInviteeConfig,
    TradebossConfig,
    load_config,
)
from watcher.errors import ConfigError

PRODUCT_EXAMPLE = """\
global:
  evaluation_interval: 15s
  external_labels: {cluster: prod}
server: {listen: "0.0.0.0:9746"}
storage: {path: /var/lib/watcher/state.db}
sources:
  - name: coinw-main
    type: coinw_mega_coupon
    base_url: https://api.coinw.com
    api_key: ${COINW_API_KEY}
    secret_key_file: secrets/coinw-secret
    interval: 60s
    statuses: [pending, unused]
    labels: {team: growth}
  - name: coinw-affiliate
    type: coinw_invitee_volume
    api_key: ${COINW_PARTNER_KEY}
    secret_key: ${COINW_PARTNER_SECRET}
    interval: 15m
    lookback_days: 30
    top_invitees: 50
  - name: wallet
    type: tradeboss_balance
    base_url: https://wallet.internal.example
    company_id: 1
    headers: {Authorization: "Bearer ${WALLET_TOKEN}"}
    interval: 60s
    accounts:
      - {third_server_code: tsc-1, user_name: "86000001", currency: HKD}
rule_files: ["rules/*.yaml"]
route:
  receiver: oncall
  group_by: [alertname, source]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - {matchers: ['severity="info"'], receiver: log-only}
receivers:
  - name: oncall
    slack_configs: [{api_url_file: secrets/slack-url, channel: "#oncall", send_resolved: true}]
  - name: log-only
    webhook_configs: [{url: "http://hooks.internal/alerts"}]
  - name: ha
    alertmanager_configs: [{url: "http://alertmanager:9093"}]
"""
ENV = {
    "COINW_API_KEY": "key-1",
    "COINW_PARTNER_KEY": "pk",
    "COINW_PARTNER_SECRET": "ps",
    "WALLET_TOKEN": "wallet-token-xyz",
}


@pytest.fixture
def product_config(write: Writer) -> Path:
    write("secrets/coinw-secret", "coinw-secret-value\n")
    write("secrets/slack-url", "https://hooks.slack.com/services/T/B/X\n")
    return write("watcher.yaml", PRODUCT_EXAMPLE)


def test_product_example_loads_with_env_and_secret_files(product_config: Path) -> None:
    """The config of docs/product.md loads: ${ENV} expanded, *_file secrets read and stripped."""
    cfg = load_config(product_config, ENV)
    coupon, affiliate, wallet = cfg.sources
    assert isinstance(coupon, CoinwCouponConfig)
    assert coupon.api_key.get() == "key-1"
    assert coupon.secret_key.get() == "coinw-secret-value"
    assert coupon.statuses == ("pending", "unused")
    assert coupon.labels == {"team": "growth"}
    assert coupon.stale_after == 300.0  # default 5 x interval
    assert isinstance(affiliate, CoinwInviteeConfig)
    assert (affiliate.interval, affiliate.lookback_days, affiliate.top_invitees) == (900.0, 30, 50)
    assert isinstance(wallet, TradebossConfig)
    assert wallet.headers["Authorization"].get() == "Bearer wallet-token-xyz"
    assert cfg.route is not None
    assert cfg.route.routes[0].group_by == ("alertname", "source")  # inherited
    assert cfg.route.routes[0].group_wait == 10.0
    assert (
        cfg.receivers[0].slack_configs[0].api_url.get() == "https://hooks.slack.com/services/T/B/X"
    )


def test_secrets_never_show_in_repr(product_config: Path) -> None:
    """Printing the config (as a log line or exception would) shows no secret."""
    text = repr(load_config(product_config, ENV))
    for secret in (
        "key-1",
        "coinw-secret-value",
        "wallet-token-xyz",
        "hooks.slack.com",
        "hooks.internal",
    ):
        assert secret not in text


def test_defaults(write: Writer) -> None:
    """Omitted keys take docs/product.md's defaults."""
    cfg = load_config(
        write(
            "w.yaml",
            "sources:\n  - {name: a, type: coinw_mega_coupon, api_key: k, secret_key: s}\n",
        )
    )
    source = cfg.sources[0]
    assert isinstance(source, CoinwCouponConfig)
    assert (
        source.base_url,
        source.interval,
        source.timeout,
        source.stale_after,
    ) == ("https://api.coinw.com", 60.0, 10.0, 300.0)
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", 9746)
    assert cfg.global_.evaluation_interval == 15.0


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "global:\n  evaluation_interval: soon\n",
            'w.yaml:2 global.evaluation_interval: expected a duration like 30s, 5m or 1h30m, got "soon"',
        ),
        (
            "global:\n  evaluation_intervl: 1m\n",
            'w.yaml:2 global.evaluation_intervl: unknown key (did you mean "evaluation_interval"?)',
        ),
        (
            "sources:\n  - {name: a, type: coinw_mega_coupon, api_key: k, secret_key: s,\n"
            "     statuses: [unused, spent]}\n",
            'w.yaml:3 sources[0].statuses[1]: expected one of pending, unused, used, expired, failed, got "spent"',
        ),
        (
            "sources:\n  - name: a\n    type: coinw_mega_coupon\n    api_key: ${MISSING_VAR}\n    secret_key: s\n",
            "w.yaml:4 sources[0].api_key: environment variable MISSING_VAR is not set",
        ),
        (
            "sources:\n  - name: a\n    type: coinw_mega_coupon\n    api_key: k\n",
            "w.yaml:2 sources[0].secret_key: is required (or secret_key_file)",
        ),
        (
            "sources:\n  - name: a\n    type: coinw_mega_coupon\n    api_key: k\n    secret_key_file: nope\n",
            "w.yaml:5 sources[0].secret_key_file: cannot read secret file nope: No such file or directory",
        ),
        (
            "sources:\n  - {name: a, type: kraken}\n",
            "w.yaml:2 sources[0].type: expected one of coinw_mega_coupon, coinw_invitee_volume, "
            'tradeboss_balance, got "kraken"',
        ),
        (
            "sources:\n  - {name: a, type: coinw_invitee_volume, api_key: k, secret_key: s, top_invitees: many}\n",
            'w.yaml:2 sources[0].top_invitees: expected an integer, got "many"',
        ),
        (
            "server:\n  listen: localhost\n",
            'w.yaml:2 server.listen: expected host:port like 0.0.0.0:9746, got "localhost"',
        ),
        ("route:\n  receiver: nobody\n", 'w.yaml:2 route.receiver: undefined receiver "nobody"'),
        (
            "route:\n  receiver: r\n  routes:\n    - matchers: ['a=~\"(\"']\nreceivers: [{name: r}]\n",
            'w.yaml:4 route.routes[0].matchers[0]: invalid regular expression "(": missing ): (',
        ),
        ("a: 1\na: 2\n", "w.yaml:2 a: duplicate key"),
        (
            "sources: [\n",
            "w.yaml:2: invalid YAML: expected the node content, but found '<stream end>'",
        ),
    ],
)
def test_each_mistake_is_reported_with_file_line_and_path(
    write: Writer, snippet: str, expected: str
) -> None:
    """Every kind of mistake names its file, line and key path in one line."""
    path = write("w.yaml", snippet)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    problems = [p.replace(str(path.parent) + "/", "") for p in info.value.problems]
    assert expected in problems


def test_every_problem_is_listed_at_once(write: Writer) -> None:
    """Several mistakes in one file are all reported, in line order."""
    path = write(
        "w.yaml",
        "global:\n  evaluation_interval: soon\nserver:\n  listen: nope\nsources:\n"
        "  - {name: a, type: kraken}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    lines = [int(p.split(" ")[0].rsplit(":", 1)[1]) for p in info.value.problems]
    assert lines == [2, 4, 6]


def test_every_section_of_the_model_is_a_key_and_nothing_else(write: Writer) -> None:
    """Each top-level section may be given empty (it takes its default); the fields the loader
    fills in (``file``, ``warnings``) and misspellings are unknown keys, a close one hinted."""
    sections = [
        "global",
        "server",
        "storage",
        "sources",
        "rule_files",
        "route",
        "receivers",
        "inhibit_rules",
        "templates",
        "time_intervals",
        "mute_time_intervals",
        "ha",
    ]
    empty = load_config(write("e.yaml", "".join(f"{key}:\n" for key in sections)), {})
    assert load_config(write("d.yaml", "{}\n"), {}) == replace(
        empty, file=empty.file.with_name("d.yaml")
    )
    path = write("w.yaml", "file: x\nwarnings: []\nrule_file: [a.yaml]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert [
        f"{path}:1 file: unknown key",
        f"{path}:2 warnings: unknown key",
        f'{path}:3 rule_file: unknown key (did you mean "rule_files"?)',
    ] == info.value.problems


def test_a_receiver_with_a_mistake_is_still_known_by_its_name(write: Writer) -> None:
    """The route naming a receiver whose URL is bad gets no "undefined receiver" on top of it."""
    path = write(
        "w.yaml",
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url: nope}]\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert [f"{path}:4 receivers[0].webhook_configs[0].url"] == [
        p.split(": ")[0] for p in info.value.problems
    ]


def test_duplicate_source_names_are_rejected(write: Writer) -> None:
    """Two sources with one name would share a `source` label; that is an error."""
    path = write(
        "w.yaml",
        "sources:\n  - {name: a, type: coinw_mega_coupon, api_key: k, secret_key: s}\n"
        "  - {name: a, type: coinw_mega_coupon, api_key: k2, secret_key: s}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert [f'{path}:3 sources[1].name: duplicate source name "a"'] == info.value.problems


def test_warns_when_coupon_interval_cannot_be_met(write: Writer) -> None:
    """Two sources on one key with 5 statuses each cannot poll every 10s at 1 request / 2 s."""
    src = (
        "{{name: {n}, type: coinw_mega_coupon, api_key: k, secret_key: s, interval: 10s, "
        "statuses: [pending, unused, used, expired, failed]}}"
    )
    path = write("w.yaml", f"sources:\n  - {src.format(n='a')}\n  - {src.format(n='b')}\n")
    cfg = load_config(path, {})
    assert len(cfg.warnings) == 2
    assert "10 almightyGoldInfo requests on this API key need at least 20s" in cfg.warnings[0]


def test_group_by_all_labels(write: Writer) -> None:
    """group_by ['...'] groups by every label (None), as in Alertmanager."""
    cfg = load_config(
        write("w.yaml", "route:\n  receiver: r\n  group_by: ['...']\nreceivers: [{name: r}]\n")
    )
    assert cfg.route is not None
    assert cfg.route.group_by is None


def test_tradeboss_header_from_a_file(write: Writer) -> None:
    """`headers: {Authorization_file: F}` sends `Authorization` with the file's content."""
    write("token", "Bearer from-file\n")
    path = write(
        "w.yaml",
        "sources:\n  - name: w\n    type: tradeboss_balance\n    base_url: https://x.example\n"
        "    company_id: 1\n    headers: {Authorization_file: token, X-Team: ops}\n"
        "    accounts: [{third_server_code: t, user_name: u, currency: HKD}]\n",
    )
    source = load_config(path).sources[0]
    assert isinstance(source, TradebossConfig)
    assert {"Authorization": "Bearer from-file", "X-Team": "ops"} == {
        k: v.get() for k, v in source.headers.items()
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("5", "w.yaml:6 sources[0].headers: expected a mapping of header names to values"),
        (
            "{A: x, A_file: token}",
            "w.yaml:6 sources[0].headers.A: give either A or A_file, not both",
        ),
        (
            '{"Bad Header": x}',
            'w.yaml:6 sources[0].headers.Bad Header: invalid HTTP header name "Bad Header"',
        ),
    ],
)
def test_tradeboss_header_mistakes(write: Writer, headers: str, expected: str) -> None:
    """Bad `headers` are one-line problems, never a crash."""
    write("token", "t")
    path = write(
        "w.yaml",
        "sources:\n  - name: w\n    type: tradeboss_balance\n    base_url: https://x.example\n"
        f"    company_id: 1\n    headers: {headers}\n"
        "    accounts: [{third_server_code: t, user_name: u, currency: HKD}]\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert [expected] == [p.replace(str(path.parent) + "/", "") for p in info.value.problems]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("a: &a [*a]\n", "w.yaml:1: invalid YAML: nesting too deep (a recursive alias?)"),
        (
            "global:\n  evaluation_interval: " + "9" * 400 + "y\n",
            'w.yaml:2 global.evaluation_interval: duration "'
            + "9" * 400
            + 'y" is longer than Prometheus allows (about 292 years)',
        ),
        (
            "sources:\n  - {name: a, type: coinw_mega_coupon, api_key: k, secret_key: s, interval: 1m, stale_after: 10s}\n",
            "w.yaml:2 sources[0].stale_after: must be at least the interval (60s)",
        ),
        (
            'server:\n  listen: "[::1"\n',
            'w.yaml:2 server.listen: expected host:port like 0.0.0.0:9746, got "[::1"',
        ),
        (
            'server:\n  listen: "0.0.0.0:99999"\n',
            'w.yaml:2 server.listen: expected host:port like 0.0.0.0:9746, got "0.0.0.0:99999"',
        ),
    ],
)
def test_hostile_input_is_a_one_line_problem(write: Writer, snippet: str, expected: str) -> None:
    """Recursive aliases, absurd durations, too-short stale_after, bad listen: one line each."""
    path = write("w.yaml", snippet)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert [expected] == [p.replace(str(path.parent) + "/", "") for p in info.value.problems]


def test_ipv6_listen(write: Writer) -> None:
    """`[::1]:9746` listens on ::1."""
    cfg = load_config(write("w.yaml", 'server: {listen: "[::1]:9746"}\n'))
    assert ("::1", 9746) == (cfg.server.host, cfg.server.port)


def test_non_utf8_config_is_one_line(write: Writer) -> None:
    """A config file that is not UTF-8 is reported, not a traceback."""
    path = write.root / "w.yaml"
    path.write_bytes(b"global:\n  external_labels: {a: \xff}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert [f"{path}: the config file is not UTF-8 text (byte 31)"] == info.value.problems


def test_group_wait_zero_is_allowed(write: Writer) -> None:
    """Alertmanager accepts group_wait: 0s (send at once); so do we."""
    cfg = load_config(
        write("w.yaml", "route: {receiver: r, group_wait: 0s}\nreceivers: [{name: r}]\n")
    )
    assert cfg.route is not None
    assert 0.0 == cfg.route.group_wait


def test_delivery_timeouts_and_queue_capacity(write: Writer) -> None:
    """Slack and webhook take Alertmanager's timeout (default 0s: none), alertmanager_configs
    Prometheus's (default 10s); the outbox capacity defaults to 10000 and must be positive."""
    text = (
        "storage: {path: s.db, notification_queue_capacity: 50}\n"
        "route: {receiver: r}\n"
        "receivers:\n"
        "  - name: r\n"
        "    slack_configs: [{api_url: 'http://s/x', timeout: 5s}, {api_url: 'http://s/y'}]\n"
        "    webhook_configs: [{url: 'http://h/x', timeout: 0s}]\n"
        "    alertmanager_configs: [{url: 'http://am:9093'}]\n"
    )
    cfg = load_config(write("w.yaml", text))
    [r] = cfg.receivers
    assert (5.0, 0.0) == tuple(s.timeout for s in r.slack_configs)
    assert 0.0 == r.webhook_configs[0].timeout
    assert 10.0 == r.alertmanager_configs[0].timeout
    assert 50 == cfg.storage.notification_queue_capacity
    default = load_config(write("d.yaml", "route: {receiver: r}\nreceivers: [{name: r}]\n"))
    assert 10_000 == default.storage.notification_queue_capacity
    path = write("bad.yaml", "storage: {notification_queue_capacity: 0}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert any("storage.notification_queue_capacity" in p for p in info.value.problems)
