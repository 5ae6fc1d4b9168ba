"""The daemon's lifecycle in process: reloads, supervised loops, restored views."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from tests.conftest import Writer
from tests.reliability import record
from watcher.app import Daemon
from watcher.config import load_config
from watcher.store import Health

CONFIG = """\
storage: {{path: {root}/state.db}}
sources:
  - {{name: a, type: coinw_mega_coupon, base_url: "http://127.0.0.1:9", api_key: k,
     secret_key: s, statuses: [unused], interval: {interval}}}
"""


def poll_loops(name: str) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == f"source:{name}" and not t.done()]


async def test_two_reloads_at_once_leave_one_poll_loop(write: Writer) -> None:
    """SIGHUP and POST /-/reload together: the changed source runs one loop, none after stop."""
    path = write("watcher.yaml", CONFIG.format(root=write.root, interval="1h"))
    daemon = Daemon(load_config(path))
    await daemon.start()
    path.write_text(CONFIG.format(root=write.root, interval="2h"))
    assert [[], []] == list(await asyncio.gather(daemon.reload(), daemon.reload()))
    assert 1 == len(poll_loops("a"))
    await daemon.stop()
    assert [] == poll_loops("a")


async def test_a_crashing_loop_is_counted_and_restarted(write: Writer) -> None:
    """A background loop that raises is logged, counted per loop, and started again."""
    path = write("watcher.yaml", CONFIG.format(root=write.root, interval="1h"))
    daemon = Daemon(load_config(path))
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            msg = "boom"
            raise RuntimeError(msg)

    await daemon.supervise("test", flaky)
    registry: CollectorRegistry = daemon.self_registry
    assert 3 == runs
    assert 2.0 == registry.get_sample_value("watcher_loop_crashes_total", {"loop": "test"})
    await daemon.stop()


async def test_source_up_is_not_zero_before_the_first_poll(write: Writer) -> None:
    """A fresh start shows no watcher_source_up until the first poll; a restart shows the
    previous process's last value (and last success) instead of a fake "down"."""
    path = write("watcher.yaml", CONFIG.format(root=write.root, interval="1h"))
    first = Daemon(load_config(path))
    first.make_runners()
    assert None is first.self_registry.get_sample_value("watcher_source_up", {"source": "a"})
    first.store.put_groups(
        "a", {}, 1_700_000_000.0, Health(True, 1_700_000_000.0, 1_700_000_000.0, None)
    )
    await first.stop()
    second = Daemon(load_config(path))
    second.make_runners()
    reg = second.self_registry
    assert 1.0 == reg.get_sample_value("watcher_source_up", {"source": "a"})
    assert 1_700_000_000.0 == reg.get_sample_value(
        "watcher_source_last_success_timestamp_seconds", {"source": "a"}
    )
    await second.stop()


async def test_unusable_storage_still_pages_from_memory(write: Writer) -> None:
    """A storage.path that cannot be written: an error, watcher_state_persistent 0, and a daemon
    that runs (on in-memory state) instead of a crash loop that pages nobody."""
    write("blocked", "a file where a folder should be")
    path = write("watcher.yaml", CONFIG.format(root=write.root / "blocked", interval="1h"))
    with capture_logs() as logs:
        daemon = Daemon(load_config(path))
    reg = daemon.self_registry
    assert 0.0 == reg.get_sample_value("watcher_state_persistent")
    assert 1.0 == reg.get_sample_value("watcher_state_write_errors_total", {"what": "open"})
    assert ["state.unavailable"] == [e["event"] for e in logs if e["log_level"] == "error"]
    assert "blocked/state.db" in logs[0]["problem"]
    await daemon.stop()
    record("storage", "unusable storage path (read-only / not a folder)", {"runs": "in memory"})
