"""Hot reload: a valid change applies without a restart; an invalid one is refused."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Writer
from tests.e2e import Daemon, Simulator, free_port, served_from, sim_coupons

pytestmark = pytest.mark.e2e


def config_text(write: Writer, sim: Simulator, port: int, sources: list[tuple[str, str]]) -> str:
    body = "".join(
        sim_coupons(sim.url, name, interval="1s", statuses="[unused]", labels=f"{{team: {team}}}")
        for name, team in sources
    )
    return f"{served_from(write.root, port)}sources:\n{body}"


@pytest.fixture
async def running(sim: Simulator, write: Writer) -> AsyncIterator[tuple[Daemon, Path]]:
    port = free_port()
    path = write("watcher.yaml", config_text(write, sim, port, [("a", "one")]))
    daemon = Daemon(path, port)
    await daemon.start()
    await daemon.wait_for(
        lambda m: 'watcher_source_up{source="a"}' in m and m['watcher_source_up{source="a"}'] == 1
    )
    yield daemon, path
    await daemon.kill()


def up(name: str) -> str:
    return f'watcher_source_up{{source="{name}"}}'


async def test_sighup_applies_a_valid_change(
    running: tuple[Daemon, Path], sim: Simulator, write: Writer
) -> None:
    """SIGHUP: a changed label shows, a removed source vanishes, an added one starts polling."""
    daemon, path = running
    path.write_text(config_text(write, sim, daemon.port, [("b", "two")]))
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    got = await daemon.wait_for(lambda m: m.get(up("b")) == 1.0 and up("a") not in m)
    assert not any('source="a"' in k for k in got)
    assert any('source="b",status="unused",team="two"' in k for k in got)
    assert 1.0 == got["watcher_config_last_reload_successful"]
    assert 0 == await daemon.terminate()


async def test_invalid_change_is_refused_and_the_old_config_keeps_running(
    running: tuple[Daemon, Path], write: Writer
) -> None:
    """POST /-/reload with a broken file: 500, reload metric 0, error logged, old sources still polled."""
    daemon, path = running
    path.write_text(path.read_text().replace("interval: 1s", "interval: soon"))
    status, text = await daemon.post("/-/reload")
    assert 500 == status
    assert "invalid" in text
    got = await daemon.metrics()
    assert 0.0 == got["watcher_config_last_reload_successful"]
    before = got['watcher_source_poll_duration_seconds_count{source="a"}']
    await daemon.wait_for(
        lambda m: m['watcher_source_poll_duration_seconds_count{source="a"}'] > before
    )
    assert 0 == await daemon.terminate()
    stderr = await daemon.stderr()
    assert "config.reload_failed" in stderr
    assert (
        'sources[0].interval: expected a duration like 30s, 5m or 1h30m, got \\"soon\\"' in stderr
    )
