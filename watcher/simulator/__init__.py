"""A local stand-in for every upstream API, speaking the real contracts (signing, limits, faults).

Used by ``watcher simulate``, ``watcher demo``, the tests and the benchmarks.
"""

from __future__ import annotations

from watcher.simulator.app import create_app
from watcher.simulator.state import DEMO_API_KEY, DEMO_SECRET_KEY, SimState, default_coupons

__all__ = ["DEMO_API_KEY", "DEMO_SECRET_KEY", "SimState", "create_app", "default_coupons"]
