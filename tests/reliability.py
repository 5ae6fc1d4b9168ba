"""Rows of the fault table (tests/RELIABILITY.md), written by the fault suites as they run.

A fault test calls ``record(category, fault, outcome)`` once per fault class it tried, after its
assertions passed, so a row is written only for a behaviour that held. When the environment
variable ``WATCHER_RELIABILITY_OUT`` names a file, each row is appended to it as one JSON line::

    {"category": "upstream", "fault": "HTTP 503", "outcome": {"reason": "http", ...}}

Without the variable nothing is written. The table is generated from these lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

ENV = "WATCHER_RELIABILITY_OUT"


def record(category: str, fault: str, outcome: Mapping[str, Any]) -> None:
    """Append one row (``category``, ``fault``, ``outcome``) to ``$WATCHER_RELIABILITY_OUT``."""
    path = os.environ.get(ENV)
    if not path:
        return
    row = {"category": category, "fault": fault, "outcome": dict(outcome)}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row, sort_keys=True, default=str) + "\n")
