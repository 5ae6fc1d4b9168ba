"""Record what a fault test tried and what came of it, for the table in tests/RELIABILITY.md."""

from __future__ import annotations

import json
import os


def record(category: str, fault: str, outcome: str) -> None:
    """Append one JSON line to the file named by ``WATCHER_RELIABILITY_OUT``, when it is set."""
    path = os.environ.get("WATCHER_RELIABILITY_OUT")
    if not path:
        return
    line = json.dumps({"category": category, "fault": fault, "outcome": outcome})
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
