"""promtool against the watcher and against real Prometheus, holding the same samples, agrees.

The samples go into a watcher state file (read back at start) and, as OpenMetrics, into a
Prometheus TSDB (``promtool tsdb create-blocks-from openmetrics``); then the same
``promtool query instant|range|series|labels`` runs against both and the answers must be
equal line for line. Slow (about 5 s): two real processes start, Prometheus is the reference.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.e2e import ROOT, free_port
from watcher.history import Retention, SampleHistory
from watcher.history.disk import SampleDisk, connect_writer
from watcher.metrics import WatcherMetrics
from watcher.series import Series
from watcher.state import open_db

pytestmark = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")), reason="needs prometheus"
)


def _write_samples(root: Path, end: int) -> None:
    """Two hours of a resetting counter and a gauge, three series each, every minute."""
    db = open_db(str(root / "state.db"))
    disk = SampleDisk(
        db, connect_writer(str(root / "state.db")), WatcherMetrics(CollectorRegistry())
    )
    history = SampleHistory(Retention(86_400_000), disk=disk)
    lines: dict[str, list[str]] = {}
    for k, t in enumerate(range(end - 7200, end + 1, 60)):
        batch = []
        for i in range(3):
            c = float((k % 50) * (i + 1) * 7 + (k // 50) * 3)
            g = math.sin(k / 7 + i) * 100 + i / 3
            batch += [Series("c_total", {"i": str(i)}, c), Series("g", {"i": str(i)}, g)]
            lines.setdefault(f'c_total{{i="{i}"}}', []).append(f"{c!r} {t}")
            lines.setdefault(f'g{{i="{i}"}}', []).append(f"{g!r} {t}")
        history.record("s", "g", batch, t)
    disk.close()
    db.close()
    out = ["# TYPE c counter"]
    for family in ("c_total", "g"):
        if family == "g":
            out.append("# TYPE g gauge")
        for series, points in lines.items():
            if series.startswith(family + "{"):
                out += [f"{series} {p}" for p in points]
    (root / "data.om").write_text("\n".join(out) + "\n# EOF\n")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(root / "data.om"),
         str(root / "tsdb")],
        check=True, capture_output=True,
    )  # fmt: skip


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback)
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    end = (int(time.time()) // 60) * 60 - 600
    _write_samples(tmp_path, end)
    prom_port, watcher_port = free_port(), free_port()
    # an evaluation interval neither side defaults to: it is a step-less subquery's step
    (tmp_path / "prom.yml").write_text("global: {evaluation_interval: 20s}\n")
    (tmp_path / "watcher.yaml").write_text(
        "global: {evaluation_interval: 20s}\n"
        f'server: {{listen: "127.0.0.1:{watcher_port}"}}\n'
        f"storage: {{path: {tmp_path}/state.db}}\n"
        "sources:\n"
        '  - {name: s, type: coinw_mega_coupon, base_url: "http://127.0.0.1:9", api_key: k,'
        " secret_key: s, statuses: [unused], interval: 1h}\n"
    )
    procs = [
        subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path}/prom.yml",
             f"--storage.tsdb.path={tmp_path}/tsdb", "--storage.tsdb.retention.time=3650d",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "-c", str(tmp_path / "watcher.yaml")],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    prom, watcher = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{watcher_port}"
    try:
        deadline = time.monotonic() + 30
        while not (_ready(prom + "/-/ready") and _ready(watcher + "/-/healthy")):
            assert time.monotonic() < deadline, "prometheus or the watcher never came up"
            time.sleep(0.2)
        yield prom, watcher, end
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def _queries(end: int) -> list[list[str]]:
    t = f"--time={end - 1800}"
    return [
        ["instant", "rate(c_total[5m])", t],
        ["instant", "g offset 10m", t],
        ["instant", "sum by (i) (increase(c_total[30m]))", t],
        ["instant", "deriv(g[15m])", t],
        ["instant", "predict_linear(g[30m], 3600)", t],
        ["instant", "changes(c_total[1h]) + resets(c_total[1h])", t],
        ["instant", "avg_over_time(g[1h]) / stddev_over_time(g[1h])", t],
        ["instant", "g", f"--time={end + 100}"],
        ["instant", "g[5m]", t],  # a range vector: the window's samples, as a matrix
        ["instant", "c_total[10m:2m]", t],
        ["instant", "count_over_time(g[10m:])", t],  # steps of global.evaluation_interval
        ["range", "max_over_time(g[3m:])", f"--start={end - 600}", f"--end={end}", "--step=200s"],
        ["instant", "g", f"--time={end + 400}"],  # past the 5-minute lookback: nothing
        ["range", "rate(c_total[5m])", f"--start={end - 600}", f"--end={end}", "--step=120s"],
        ["range", "max_over_time(g[10m])", f"--start={end - 900}", f"--end={end + 600}",
         "--step=300s"],
        ["series", "--match=c_total", '--match=g{i="1"}'],
        ["series", '--match={__name__=~"c_total|g"}', f"--start={end - 60}", f"--end={end}"],
        ["labels", "i", "--match=g"],
        ["labels", "__name__", '--match={i="2"}'],
    ]  # fmt: skip


def _promtool(url: str, query: list[str]) -> str:
    kind, *rest = query
    done = subprocess.run(
        ["promtool", "query", kind, url, *rest], capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    return f"{done.returncode}\n{done.stdout}{done.stderr}"


def test_promtool_answers_alike(servers: tuple[str, str, int]) -> None:
    """Every query answers the same text from the watcher as from Prometheus 2.42."""
    prom, watcher, end = servers
    for query in _queries(end):
        expected = _promtool(prom, query)
        assert expected.startswith("0\n"), expected
        assert (query, expected) == (query, _promtool(watcher, query))
