"""Every benchmark, one after another: ``python -m bench.run_all [--small]``.

``--small`` runs each at a small size with one repeat, to keep them working (CI and the test
suite do; they assert what the benchmarks check, such as no rate-limit violation and output
identical to prometheus-client's, never a timing). Without it, the full sizes of each
benchmark's own command; ``bench/RESULTS.md`` records such a run.
"""

from __future__ import annotations

import argparse
import sys

from bench import (
    bench_daemon,
    bench_history,
    bench_latency,
    bench_metrics,
    bench_poll,
    bench_push,
    bench_rules,
    rate_limit_soak,
)
from bench.common import REPEATS


def main(argv: list[str] | None = None) -> int:
    """Print every table; exit 1 if a benchmark's own check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small sizes, one repeat")
    args = parser.parse_args(argv)
    small = args.small
    repeats = 1 if small else REPEATS
    print(bench_poll.run([50] if small else [100, 1_000, 10_000], repeats, 0 if small else 10_000))
    print(bench_metrics.run([1_000] if small else [10_000, 100_000], repeats))
    print(bench_metrics.loop_lag(5_000 if small else 100_000, repeats))
    print(bench_rules.run([1_000] if small else [10_000, 100_000], repeats))
    cases = bench_daemon.SMALL if small else bench_daemon.FULL
    print(bench_daemon.run(cases, repeats, steady_after=0.5 if small else 3.0))
    latency = [bench_latency.MATCHED] if small else [bench_latency.MATCHED, bench_latency.DEFAULTS]
    print(bench_latency.run(latency, repeats))
    text, clean = rate_limit_soak.run(3.0 if small else 20.0, repeats)
    print(text)
    # Push: small asserts that it pages and breaks no limit, never how fast (a loaded CI box).
    push_text, push_clean = bench_push.run(1.0, 2.0 if small else 10.0, repeats, timing=not small)
    print(push_text)
    history_text, history_same = bench_history.run(
        200 if small else 10_000, 120 if small else 1440, repeats
    )
    print(history_text)
    return 0 if clean and push_clean and history_same else 1


if __name__ == "__main__":
    sys.exit(main())
