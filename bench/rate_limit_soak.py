"""Soak the Mega Coupon source against the simulator and count rate-limit violations.

Runs the real daemon (``watcher run``) with ``interval: 1s`` and two statuses for N seconds
(default 20, three repeats) against the in-process simulator, then reads the simulator's
request log: requests, 29001 answers (violations), the gaps between requests, and the share
of CoinW's allowed rate (one request per 2 s) actually used. Goals: zero violations and
>= 95 % of the allowed rate. Usage: ``python -m bench.rate_limit_soak [--seconds S] [--small]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPEATS, Spread, table
from tests.e2e import Daemon, Simulator, free_port
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY

LIMIT_GAP = 2.0


async def soak(seconds: float) -> dict[str, float]:
    """One soak: requests, violations, gaps and the share of the allowed rate used."""
    sim = Simulator()
    await sim.start()
    folder = Path(tempfile.mkdtemp(prefix="watcher-soak-"))
    port = free_port()
    config = folder / "watcher.yaml"
    config.write_text(f"""\
server: {{listen: "127.0.0.1:{port}"}}
storage: {{path: {folder}/state.db}}
sources:
  - name: soak
    type: coinw_mega_coupon
    base_url: {sim.url}
    api_key: {DEMO_API_KEY}
    secret_key: {DEMO_SECRET_KEY}
    interval: 1s
    statuses: [pending, unused]
""")
    daemon = Daemon(config, port)
    await daemon.start()
    deadline = time.monotonic() + 60
    while not any(r.endpoint == "coupon" for r in sim.state.requests):  # start-up is not soak
        if time.monotonic() > deadline:
            msg = "the daemon sent no request within 60 s"
            raise RuntimeError(msg)
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    code = await daemon.terminate()
    elapsed = time.monotonic() - started
    summary = sim.state.summary()
    coupon = summary["by_endpoint"].get("coupon", {})
    times = [r.at for r in sim.state.requests if r.endpoint == "coupon"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    await sim.stop()
    if code != 0:
        msg = f"watcher exited with {code}"
        raise RuntimeError(msg)
    mean_gap = sum(gaps) / len(gaps) if gaps else float("nan")
    return {
        "duration": elapsed,
        "requests": float(len(times)),
        "ok": float(coupon.get("ok", 0)),
        "violations": float(summary["rate_limit_violations"]),
        "min_gap": min(gaps) if gaps else float("nan"),
        "mean_gap": mean_gap,
        "used": LIMIT_GAP / mean_gap if gaps else float("nan"),
    }


def run(seconds: float, repeats: int) -> tuple[str, bool]:
    """The table, and whether no request broke the limit."""
    runs = [asyncio.run(soak(seconds)) for _ in range(repeats)]

    def spread(key: str) -> Spread:
        return Spread.of([r[key] for r in runs])

    rows = [
        [
            f"{seconds:.0f}",
            spread("requests"),
            spread("violations"),
            spread("min_gap"),
            spread("mean_gap"),
            f"{LIMIT_GAP:.3f}",
            spread("used"),
        ]
    ]
    text = table(
        "Rate-limit fidelity: coupon source, interval 1s, two statuses (min/median/max)",
        [
            "seconds",
            "requests",
            "violations",
            "min gap s",
            "mean gap s",
            "limit gap s",
            "share of allowed rate",
        ],
        rows,
    )
    return text, all(r["violations"] == 0 for r in runs)


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 on any violation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--small", action="store_true", help="one 5 s run (CI)")
    args = parser.parse_args(argv)
    text, clean = run(5.0, 1) if args.small else run(args.seconds, REPEATS)
    print(text)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
