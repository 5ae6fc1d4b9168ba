"""The fault-table helper: rows are JSON lines appended to $WATCHER_RELIABILITY_OUT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability import ENV, record


def test_rows_are_appended_as_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each record() call appends one row; without the variable nothing is written."""
    out = tmp_path / "rows.jsonl"
    monkeypatch.delenv(ENV, raising=False)
    record("upstream", "ignored", {"x": 1})
    monkeypatch.setenv(ENV, str(out))
    record("upstream", "HTTP 503", {"reason": "http", "recovered": True})
    record("delivery", "receiver down 1h", {"lost": 0})
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [
        {
            "category": "upstream",
            "fault": "HTTP 503",
            "outcome": {"reason": "http", "recovered": True},
        },
        {"category": "delivery", "fault": "receiver down 1h", "outcome": {"lost": 0}},
    ] == rows
