"""The ``ha`` config: replicas behind an Alertmanager cluster, one page, a shared upstream budget."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from tests.conftest import Writer
from watcher.app import Daemon
from watcher.cli import main
from watcher.clock import FakeClock
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.page.model import build_page
from watcher.page.render import render_page
from watcher.page.ring import SampleRing

AM_ONLY = """\
ha: {replicas: 2, replica: "${POD_NAME}"}
route:
  receiver: am
  routes:
    - {matchers: ['severity="info"'], receiver: quiet}
receivers:
  - name: am
    alertmanager_configs: [{url: "http://am-0:9093"}, {url: "http://am-1:9093"}]
  - name: quiet
    console_configs: [{}]
"""

SLACK_LEAF = """\
ha: {replicas: 2, replica: watcher-1}
route:
  receiver: am
  routes:
    - matchers: ['team="growth"']
      routes:
        - {matchers: ['severity="page"'], receiver: slack}
receivers:
  - name: am
    alertmanager_configs: [{url: "http://am-0:9093"}]
  - name: slack
    slack_configs: [{api_url: "https://hooks.slack.com/services/T/B/x"}]
  - name: unused-hook
    webhook_configs: [{url: "http://hooks.internal/x"}]
"""


def _problems(write: Writer, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = write("w.yaml", text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env or {})
    return [p.removeprefix(f"{path}:") for p in exc.value.problems]


def test_the_replica_comes_from_the_environment_and_its_ordinal_gives_the_index(
    write: Writer,
) -> None:
    """`replica: ${POD_NAME}` with a StatefulSet pod name: name and index 1 of 2, sharing on."""
    cfg = load_config(write("w.yaml", AM_ONLY), {"POD_NAME": "watcher-1"})
    assert cfg.ha is not None
    assert ("watcher-1", 1, 2, True) == (
        cfg.ha.replica,
        cfg.ha.index,
        cfg.ha.replicas,
        cfg.ha.share_rate_limit,
    )


def test_an_explicit_index_names_a_replica_without_an_ordinal(write: Writer) -> None:
    """`replica: a, index: 0` is replica 0; `index` beats any ordinal in the name."""
    text = AM_ONLY.replace('replica: "${POD_NAME}"', "replica: a, index: 0")
    cfg = load_config(write("w.yaml", text), {})
    assert cfg.ha is not None
    assert (0, "a") == (cfg.ha.index, cfg.ha.replica)


def test_a_replica_whose_index_cannot_be_told_is_a_problem_with_its_line(write: Writer) -> None:
    """Sharing the budget needs the index: `replica: a` alone is refused at its line."""
    text = AM_ONLY.replace('replica: "${POD_NAME}"', "replica: a")
    [problem] = _problems(write, text)
    assert problem.startswith('1 ha.replica: cannot tell which replica "a" is')
    assert "ha.index" in problem


def test_an_index_beyond_the_replicas_and_unknown_keys_are_problems(write: Writer) -> None:
    """`watcher-2` of 2 replicas, a misspelt key (with a hint), 0 replicas: each reported."""
    text = "ha: {replicas: 2, replica: watcher-2, share_rate_limits: true}\n"
    assert [
        '1 ha.share_rate_limits: unknown key (did you mean "share_rate_limit"?)',
        "1 ha.replica: replica index 2 is not below ha.replicas (2)",
    ] == _problems(write, text)
    assert ["1 ha.replicas: must be at least 1, got 0"] == _problems(
        write, "ha: {replicas: 0, replica: a}\n"
    )


def test_an_unset_pod_name_is_reported_by_name(write: Writer) -> None:
    """The chart sets POD_NAME; without it the problem names the variable."""
    problems = _problems(write, AM_ONLY)
    assert "1 ha.replica: environment variable POD_NAME is not set" in problems


def test_a_route_reaching_a_direct_receiver_is_refused_naming_it(write: Writer) -> None:
    """A Slack receiver two routes down would page once per replica: refused at its line.
    A receiver no route reaches cannot page, so it is left alone."""
    assert [
        '12 receivers[1].slack_configs: receiver "slack" delivers directly (slack_configs); '
        "with ha every replica would send it (one page per replica): route it to "
        "alertmanager_configs listing every Alertmanager peer, and configure this receiver there"
    ] == _problems(write, SLACK_LEAF)


def test_an_inherited_receiver_counts_as_reached(write: Writer) -> None:
    """A child route without `receiver` delivers to its parent's: a webhook root is refused."""
    text = (
        "ha: {replicas: 1, replica: solo}\n"
        "route: {receiver: hook, routes: [{matchers: ['a=\"b\"']}]}\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs: [{url: 'http://hooks.internal/x'}]\n"
    )
    [problem] = _problems(write, text)
    assert problem.startswith('5 receivers[0].webhook_configs: receiver "hook" delivers directly')


def test_without_ha_a_direct_receiver_is_fine(write: Writer) -> None:
    """The refusal is HA's: the same routes without `ha` load."""
    cfg = load_config(write("w.yaml", SLACK_LEAF.split("\n", 1)[1]), {})
    assert cfg.ha is None


def test_a_replica_in_the_external_labels_is_refused(write: Writer) -> None:
    """An external label set to the replica makes two alerts of one: one page per replica."""
    text = AM_ONLY + 'global: {external_labels: {cluster: prod, replica: "${POD_NAME}"}}\n'
    assert [
        "11 global.external_labels.replica: carries the replica name: every replica's alerts "
        "would differ and Alertmanager would page once per replica (the replica is on "
        "watcher_ha_replica_info instead)"
    ] == _problems(write, text, {"POD_NAME": "watcher-0"})


def test_a_label_written_as_the_expanded_replica_is_refused_too(write: Writer) -> None:
    """The labels and the replica are compared as the daemon sees them, ``${ENV}`` expanded."""
    text = AM_ONLY + "global: {external_labels: {pod: watcher-0}}\n"
    [problem] = _problems(write, text, {"POD_NAME": "watcher-0"})
    assert problem.startswith("11 global.external_labels.pod: carries the replica name")


def test_watcher_check_refuses_a_direct_receiver_in_ha(
    write: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`watcher check` exits 1 and names the receiver and its line."""
    path = write("w.yaml", SLACK_LEAF)
    assert 1 == main(["check", "-c", str(path)])
    err = capsys.readouterr().err
    assert f'{path}:12 receivers[1].slack_configs: receiver "slack" delivers directly' in err


async def test_the_replica_is_on_a_self_metric_and_the_status_page(write: Writer) -> None:
    """/metrics has watcher_ha_replica_info for this replica; the page header names it."""
    text = 'storage: {path: ":memory:"}\n' + AM_ONLY
    daemon = Daemon(
        load_config(write("w.yaml", text), {"POD_NAME": "watcher-1"}), clock=FakeClock()
    )
    try:
        exposed = generate_latest(daemon.registry).decode()
        line = 'watcher_ha_replica_info{index="1",replica="watcher-1",replicas="2"} 1.0'
        assert line in exposed.splitlines()
        header = render_page(build_page(daemon, SampleRing()))
        assert "HA replica watcher-1 (2 of 2)" in header
    finally:
        await daemon.stop()


async def test_without_ha_no_replica_is_shown(write: Writer) -> None:
    """No `ha`: the info metric has no series and the page shows no replica."""
    daemon = Daemon(
        load_config(write("w.yaml", 'storage: {path: ":memory:"}\n'), {}), clock=FakeClock()
    )
    try:
        assert "watcher_ha_replica_info{" not in generate_latest(daemon.registry).decode()
        assert "HA replica" not in render_page(build_page(daemon, SampleRing()))
    finally:
        await daemon.stop()


async def test_a_reload_adding_a_direct_receiver_is_refused(write: Writer) -> None:
    """Reloading an HA config that now routes to Slack keeps the old config and says why."""
    env = {"POD_NAME": "watcher-0"}
    path = write("w.yaml", 'storage: {path: ":memory:"}\n' + AM_ONLY)
    daemon = Daemon(load_config(path, env), clock=FakeClock(), env=env)
    try:
        path.write_text('storage: {path: ":memory:"}\n' + SLACK_LEAF)
        problems = await daemon.reload()
        assert [f'{path}:13 receivers[1].slack_configs: receiver "slack" delivers directly'] == [
            p.split(" (slack_configs)")[0] for p in problems
        ]
        assert daemon.config.route is not None
        assert "am" == daemon.config.route.receiver  # the old config keeps running
    finally:
        await daemon.stop()


def test_every_other_integration_is_refused_too(write: Writer) -> None:
    """PagerDuty and email receivers page once per replica as well: each is named."""
    text = (
        "ha: {replicas: 2, replica: watcher-0}\n"
        "route: {receiver: pd, routes: [{matchers: ['a=\"b\"'], receiver: mail}]}\n"
        "receivers:\n"
        "  - name: pd\n"
        "    pagerduty_configs: [{routing_key: k}]\n"
        "  - name: mail\n"
        "    email_configs: [{to: a@example.org, from: w@example.org, smarthost: 'mx:25'}]\n"
    )
    problems = [p for p in _problems(write, text) if "delivers directly" in p]
    assert [
        '5 receivers[0].pagerduty_configs: receiver "pd" delivers directly',
        '7 receivers[1].email_configs: receiver "mail" delivers directly',
    ] == [p.split(" (")[0] for p in problems]


def test_the_coupon_interval_warning_counts_the_split_budget(write: Writer) -> None:
    """Two replicas sharing a key each get half its budget: 3 statuses need 12 s per replica,
    so a 10 s interval is warned about with the split named; alone, or without sharing, not."""
    source = (
        "sources:\n"
        "  - {name: c, type: coinw_mega_coupon, base_url: 'http://127.0.0.1:9', api_key: k,\n"
        "     secret_key: s, statuses: [unused, used, expired], interval: 10s}\n"
    )
    shared = load_config(write("w.yaml", source + AM_ONLY), {"POD_NAME": "watcher-0"})
    (warning,) = shared.warnings
    assert "need at least 12s at CoinW's limit of 1 request per 2s, split between 2 HA" in warning
    unshared = AM_ONLY.replace('replica: "${POD_NAME}"', "replica: a, index: 0, "
                               "share_rate_limit: false")  # fmt: skip
    assert () == load_config(write("w.yaml", source + unshared), {}).warnings
    assert () == load_config(write("w.yaml", source), {}).warnings
