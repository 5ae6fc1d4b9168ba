"""A real two-peer Alertmanager cluster on loopback, and the figures of an HA run.

Alertmanager's HA (https://prometheus.io/docs/alerting/latest/alertmanager/#high-availability,
``cluster/cluster.go``): peers gossip their notification logs; the peer at position ``p`` (its
rank among the members' names) waits ``p x --cluster.peer-timeout`` before it notifies, and
sends only what no peer has logged as sent. ``--cluster.settle-timeout`` bounds the wait for
the gossip to settle at start (settled = three polls ``10 x gossip-interval`` apart with the
same peer count). The intervals below are shortened for loopback; the defaults (200 ms gossip,
1 m push-pull and settle, 15 s peer timeout) are for real networks.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.am_support import BINARY, free_port

#: How long the second peer waits for the first one's notification log entry. Gossip runs every
#: 50 ms, so this leaves a loaded machine seconds to spare. The failure detector keeps its
#: defaults (1 s probes, 500 ms timeout): shorter ones flag a starved but live peer as dead,
#: and then both peers send at position 0, a duplicate.
PEER_TIMEOUT = 3.0
FLAGS = (
    "--cluster.gossip-interval=50ms",
    "--cluster.pushpull-interval=1s",
    "--cluster.settle-timeout=5s",
    f"--cluster.peer-timeout={PEER_TIMEOUT:g}s",
    "--cluster.reconnect-interval=1s",
    "--log.level=debug",  # each alert received and notification sent, for a failure message
)


class ClusteredAlertmanager:
    """One ``prometheus-alertmanager`` of a cluster: web and gossip on 127.0.0.1."""

    def __init__(self, folder: Path, config: Path) -> None:
        self.folder = folder
        self.config = config
        self.port = free_port()
        self.cluster = f"127.0.0.1:{free_port()}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, peers: Sequence[str]) -> None:
        assert BINARY is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            BINARY,
            f"--config.file={self.config}",
            f"--storage.path={self.folder}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--cluster.listen-address={self.cluster}",
            *(f"--cluster.peer={p}" for p in peers),
            *FLAGS,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=(self.folder / "alertmanager.log").open("wb"),
        )

    async def status(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.get(f"{self.url}/api/v2/status") as r:
            body: dict[str, Any] = await r.json()
            return body

    async def nflog_queries(self) -> float:
        """``alertmanager_nflog_queries_total``: one per notification-log check (DedupStage)."""
        async with aiohttp.ClientSession() as s, s.get(f"{self.url}/metrics") as r:
            text = await r.text()
        for line in text.splitlines():
            if line.startswith("alertmanager_nflog_queries_total "):
                return float(line.split()[1])
        return 0.0

    async def kill(self) -> None:
        """SIGKILL: the peer vanishes without leaving the cluster (a crashed node)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=10)
            except TimeoutError:
                await self.kill()


def logs(ams: Sequence[ClusteredAlertmanager]) -> str:
    """The peers' alert, notification and membership log lines, for a failure message."""
    lines = []
    for am in ams:
        text = (am.folder / "alertmanager.log").read_text(errors="replace")
        wanted = ("Received alert", "Notify", "flushing", "peer", "memberlist")
        lines += [
            f"{am.cluster}: {x[:300]}" for x in text.splitlines() if any(w in x for w in wanted)
        ]
    return "\n".join(lines[-40:])


async def cluster_ready(ams: Sequence[ClusteredAlertmanager], timeout: float = 30.0) -> None:
    """Wait (bounded polling) until every peer sees all of them and reports itself ready."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            states = [await am.status() for am in ams]
            if all(
                s["cluster"]["status"] == "ready" and len(s["cluster"]["peers"]) == len(ams)
                for s in states
            ):
                return
        except (aiohttp.ClientError, KeyError, TypeError):
            pass
        await asyncio.sleep(0.2)
    msg = f"the Alertmanager cluster did not form within {timeout}s:\n{logs(ams)}"
    raise AssertionError(msg)


@dataclass(frozen=True)
class Window:
    """Upstream requests on one key over a stretch of the run."""

    count: int
    per_second: float
    min_gap: float
    median_gap: float


def window(times: Sequence[float], start: float, end: float) -> Window:
    """The requests at ``times`` within [start, end]: their rate and their spacing."""
    inside = sorted(t for t in times if start <= t <= end)
    gaps = [b - a for a, b in itertools.pairwise(inside)]
    span = inside[-1] - inside[0] if len(inside) > 1 else 0.0
    return Window(
        count=len(inside),
        per_second=(len(inside) - 1) / span if span else 0.0,
        min_gap=min(gaps) if gaps else float("inf"),
        median_gap=statistics.median(gaps) if gaps else float("inf"),
    )


def pages(
    posts: Sequence[tuple[float, int, dict[str, Any]]],
) -> list[tuple[float, str, str, str]]:
    """The webhook notifications delivered: (arrival, status, coupon_id, sending peer's URL)."""
    return [
        (at, body["status"], body["groupLabels"].get("coupon_id", ""), body["externalURL"])
        for at, status, body in posts
        if status == 200
    ]
