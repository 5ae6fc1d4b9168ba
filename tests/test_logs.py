"""Console streams: what is meant for the user is plain text, or JSON lines when asked."""

from __future__ import annotations

import io
import json

from watcher.logs import user_stream


def test_json_lines_turn_each_flushed_block_into_one_record() -> None:
    """A notification block written then flushed becomes one JSON line holding its lines."""
    out = io.StringIO()
    stream = user_stream(json_lines=True, event="notification", out=out)
    stream.write("[FIRING:1] console {alertname=A}\n")
    stream.write("  firing   A: summary (value 1) {alertname=A}\n")
    assert "" == out.getvalue()
    stream.flush()
    stream.flush()  # nothing new: no empty record
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert 1 == len(records)
    assert "notification" == records[0]["event"]
    assert [
        "[FIRING:1] console {alertname=A}",
        "  firing   A: summary (value 1) {alertname=A}",
    ] == records[0]["lines"]
    assert records[0]["timestamp"].endswith("Z")


def test_plain_text_is_the_stream_itself() -> None:
    """Without JSON the user's text goes to the stream unchanged."""
    out = io.StringIO()
    assert out is user_stream(json_lines=False, event="demo", out=out)
