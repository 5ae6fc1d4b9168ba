"""Soak the Mega Coupon source against the simulator and count rate-limit violations.

Runs the real daemon (``watcher run``) with ``interval: 1s`` and two statuses for N seconds
(default 60) against the in-process simulator, then prints the simulator's request log:
requests, successes, 29001 answers (violations), and the achieved spacing versus CoinW's
2 s limit. Usage: ``python -m bench.rate_limit_soak [SECONDS]``.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e import Daemon, Simulator, free_port
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY


async def soak(seconds: float) -> int:
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
    started = time.monotonic()
    await asyncio.sleep(seconds)
    code = await daemon.terminate()
    elapsed = time.monotonic() - started
    summary = sim.state.summary()
    coupon = summary["by_endpoint"].get("coupon", {})
    times = [r.at for r in sim.state.requests if r.endpoint == "coupon"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    await sim.stop()
    print(
        f"duration_s={elapsed:.1f} requests={len(times)} ok={coupon.get('ok', 0)} "
        f"rate_limit_violations={summary['rate_limit_violations']} "
        f"min_gap_s={min(gaps) if gaps else float('nan'):.3f} "
        f"mean_gap_s={sum(gaps) / len(gaps) if gaps else float('nan'):.3f} "
        f"limit_gap_s=2.000 ratio_min_gap_to_limit={(min(gaps) / 2.0) if gaps else float('nan'):.3f} "
        f"exit_code={code}"
    )
    return 0 if summary["rate_limit_violations"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(soak(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)))
