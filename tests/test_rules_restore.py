"""``for`` state across a restart, as Prometheus restores it (grace period, outage tolerance)."""

from __future__ import annotations

from tests.conftest import Writer
from watcher.app import Daemon
from watcher.clock import FakeClock
from watcher.config import load_config
from watcher.series import Series

T0 = 1_700_000_040.0  # a whole minute
RULES = """groups:
  - name: g
    rules:
      - alert: Low
        expr: balance < 100
        for: {hold}
"""


async def _evaluate(daemon: Daemon, clock: FakeClock) -> None:
    daemon.store.put("s", "g", [Series("balance", {"user": "a"}, 50.0)], clock.time())
    await daemon.evaluate()


async def restart(
    write: Writer, hold: str, up_for: float, down_for: float
) -> tuple[float, float, list[str]]:
    """Evaluate every minute for ``up_for`` s from T0, stop, restart ``down_for`` s later and
    evaluate every minute until the alert fires: (its active-since after the restore, the time
    it fired, the ALERTS names the rules wrote at each of the first three evaluations)."""
    write("rules.yaml", RULES.format(hold=hold))
    path = write(
        "watcher.yaml",
        f"storage: {{path: {write.root}/state.db}}\nrule_files: [{write.root}/rules.yaml]\n",
    )
    clock = FakeClock(T0)
    first = Daemon(load_config(path), clock=clock, deliver=False)
    while clock.time() <= T0 + up_for:
        await _evaluate(first, clock)
        clock.advance(60)
    await first.stop()
    clock.advance(down_for - 60)
    second = Daemon(load_config(path), clock=clock, deliver=False)
    written: list[str] = []
    active_at = fired = 0.0
    for n in range(200):
        await _evaluate(second, clock)
        if n < 3:
            written.append(",".join(sorted({s.name for s in second.rules.series(clock.time())})))
        [alert] = second.rules.active()
        if n == 1:
            active_at = alert.active_at
        if alert.state == "firing":
            fired = clock.time()
            break
        clock.advance(60)
    await second.stop()
    return active_at, fired, written


async def test_downtime_is_added_to_the_pending_time(write: Writer) -> None:
    """Pending 5 of 15 minutes, down 5: restored at the second evaluation (T0+11m) with the
    downtime added (active since T0+6m), so it fires at T0+21m; ALERTS wait for the restore."""
    active_at, fired, written = await restart(write, "15m", 5 * 60, 10 * 60 - 5 * 60)
    assert (T0 + 6 * 60, T0 + 21 * 60) == (active_at, fired)
    assert ["", "", "ALERTS,ALERTS_FOR_STATE"] == written


async def test_little_time_left_fires_a_grace_period_after_the_restore(write: Writer) -> None:
    """Pending 10 of 15 minutes (5 left, under the 10m grace period), down 10: it fires 10
    minutes after the restore at T0+21m, not at once."""
    active_at, fired, _ = await restart(write, "15m", 10 * 60, 10 * 60)
    assert (T0 + 16 * 60, T0 + 31 * 60) == (active_at, fired)


async def test_an_outage_longer_than_the_tolerance_starts_the_timer_afresh(write: Writer) -> None:
    """Down for 2 hours (over the 1h outage tolerance): the 15 minutes start again."""
    active_at, fired, _ = await restart(write, "15m", 5 * 60, 2 * 3600)
    start = T0 + 5 * 60 + 2 * 3600
    assert (start, start + 15 * 60) == (active_at, fired)


async def test_a_for_below_the_grace_period_is_not_restored(write: Writer) -> None:
    """for: 5m is below the 10m grace period: Prometheus does not restore it, so the pending
    alert waits its 5 minutes again after the restart."""
    active_at, fired, _ = await restart(write, "5m", 2 * 60, 60)
    start = T0 + 3 * 60
    assert (start, start + 5 * 60) == (active_at, fired)
