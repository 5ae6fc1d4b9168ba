"""The real daemon as a user starts it: start-up to ready, and resident memory.

``watcher run`` is started against the fake upstreams (``bench.fake_upstream``) with one
TradeBoss source of N accounts (and, for the coupon row, a CoinW coupon source whose simulator
holds 10k coupons). Start to ready: from spawning the process to ``/-/ready`` answering 200
(every source polled once). Peak RSS is the kernel's high-water mark (VmHWM); steady RSS is
VmRSS a few seconds after ready. Baseline, same run: a child process that imports the same
modules and makes the same N requests in a bare aiohttp loop (``--bare``), the least any
poller must do. Goals: ready <= 1.5 s at 10k accounts; peak RSS <= 100 MB at 10k accounts
plus 10k coupons. ``--growth SECONDS`` also samples RSS over a longer run (goal <= 5 MB
growth over 10 minutes). Run: ``python -m bench.bench_daemon [--small] [--growth 600]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.common import REPEATS, ROOT, Spread, fake_upstream, table, tradeboss_yaml
from tests.e2e import free_port
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY

STEADY_AFTER = 3.0
#: (accounts, coupons) per row.
FULL = [(1, 0), (1_000, 0), (10_000, 0), (10_000, 10_000)]
SMALL = [(10, 10)]


def rss(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of ``pid`` in MB, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmHWM"], fields["VmRSS"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ready(port: int) -> bool:
    """Whether /-/ready answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def daemon(config: str, folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], float, float]]:
    """Start ``watcher run`` on ``config``; yield (process, seconds and CPU seconds to ready)."""
    port = free_port()
    path = folder / "watcher.yaml"
    path.write_text(config.replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "-c", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ready(port):
            if proc.poll() is not None:
                msg = f"watcher exited with {proc.returncode} before ready"
                raise RuntimeError(msg)
            time.sleep(0.01)
        yield proc, time.perf_counter() - started, cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def bare(url: str, n: int) -> tuple[float, float, float]:
    """(seconds, CPU seconds, peak RSS MB) of a child process doing the bare loop of ``n``."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_daemon", "--bare", str(n), url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, peak = out.stdout.split()[-2:]
    return time.perf_counter() - started, float(cpu), float(peak)


def coupon_source(url: str) -> str:
    """A coupon source block for the config."""
    return (
        "  - name: coupons\n    type: coinw_mega_coupon\n"
        f"    base_url: {url}\n    api_key: {DEMO_API_KEY}\n    secret_key: {DEMO_SECRET_KEY}\n"
        "    interval: 10m\n    statuses: [unused]\n"
    )


def run(
    cases: list[tuple[int, int]],
    repeats: int,
    growth: float = 0.0,
    steady_after: float = 3.0,
    growth_accounts: int = 1_000,
) -> str:
    """The tables for (accounts, coupons) ``cases``."""
    rows_ready: list[list[object]] = []
    rows_rss: list[list[object]] = []
    folder = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    storage = f"storage: {{path: {folder}/state.db}}\n"
    with fake_upstream(max((c for _, c in cases), default=0)) as urls:
        url = urls["tradeboss"]
        for n, c in cases:
            config = storage + tradeboss_yaml(url, n, port=0)
            if c:
                config += coupon_source(urls["simulator"])
            readies, cpus, peaks, steadies = [], [], [], []
            bare_s, bare_cpu, bare_rss = [], [], []
            for _ in range(repeats):
                seconds, cpu, peak = bare(url, n)
                bare_s.append(seconds)
                bare_cpu.append(cpu)
                bare_rss.append(peak)
                (folder / "state.db").unlink(missing_ok=True)
                with daemon(config, folder) as (proc, to_ready, cpu):
                    readies.append(to_ready)
                    cpus.append(cpu)
                    time.sleep(steady_after)
                    peak, steady = rss(proc.pid)
                    peaks.append(peak)
                    steadies.append(steady)
            label = f"{n} accounts" + (f" + {c} coupons" if c else "")
            ready_s, base = Spread.of(readies), Spread.of(bare_s)
            cpu_s, base_cpu = Spread.of(cpus), Spread.of(bare_cpu)
            rows_ready.append(
                [label, ready_s, cpu_s, base, base_cpu, f"{cpu_s.mid / base_cpu.mid:.2f}x"]
            )
            peak_s, base_rss = Spread.of(peaks), Spread.of(bare_rss)
            rows_rss.append(
                [label, peak_s, Spread.of(steadies), base_rss, f"{peak_s.mid / base_rss.mid:.2f}x"]
            )
        out = (
            ""
            if not cases
            else table(
                "Start to ready (s, min/median/max)",
                ["config", "watcher s", "watcher CPU s", "bare loop s", "bare CPU s", "CPU ratio"],
                rows_ready,
            )
            + table(
                "Resident memory (MB, min/median/max)",
                ["config", "watcher peak", "watcher steady", "bare loop peak", "peak ratio"],
                rows_rss,
            )
        )
        if growth:
            out += grow(storage + tradeboss_yaml(url, growth_accounts, port=0), folder, growth)
    return out


def grow(config: str, folder: Path, seconds: float) -> str:
    """RSS sampled over ``seconds`` of polling every 10 s."""
    config = config.replace("interval: 10m", "interval: 10s")
    samples: list[tuple[float, float]] = []
    with daemon(config, folder) as (proc, _, _):
        started = time.monotonic()
        time.sleep(STEADY_AFTER)
        while time.monotonic() - started < seconds:
            samples.append((time.monotonic() - started, rss(proc.pid)[1]))
            time.sleep(5)
    first, last = samples[0][1], samples[-1][1]
    return table(
        f"RSS growth over {seconds:.0f} s, polling every 10 s (MB)",
        ["after ready", "at end", "growth", "max"],
        [
            [
                f"{first:.1f}",
                f"{last:.1f}",
                f"{last - first:+.1f}",
                f"{max(s for _, s in samples):.1f}",
            ]
        ],
    )


def bare_child(n: int, url: str) -> None:
    """``--bare``: import what the daemon imports, make ``n`` requests, print peak RSS."""
    import watcher.app  # noqa: F401, PLC0415 - the same imports as the daemon, on purpose
    from bench.bench_poll import bare_poll  # noqa: PLC0415

    asyncio.run(bare_poll(url, n))
    times = os.times()
    print(times.user + times.system, rss(os.getpid())[0])


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10 accounts + 10 coupons, once")
    parser.add_argument("--growth", type=float, default=0.0, help="seconds of RSS sampling")
    parser.add_argument("--growth-accounts", type=int, default=1_000, help="accounts then")
    parser.add_argument("--growth-only", action="store_true", help="skip the other rows")
    parser.add_argument("--bare", nargs=2, metavar=("N", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        bare_child(int(args.bare[0]), args.bare[1])
        return 0
    if args.small:
        print(run(SMALL, 1, args.growth, growth_accounts=args.growth_accounts))
    elif args.growth and args.growth_only:
        print(run([], 0, args.growth, growth_accounts=args.growth_accounts))
    else:
        print(run(FULL, REPEATS, args.growth, growth_accounts=args.growth_accounts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
