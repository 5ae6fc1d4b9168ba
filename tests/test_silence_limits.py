"""Silences are bounded in number and size, with Alertmanager's error messages."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from watcher.errors import SilenceError
from watcher.matchers import parse_matcher
from watcher.notify.silences import MAX_SILENCE_BYTES, MAX_SILENCES, Silence, Silences
from watcher.state import open_db

NOW = 1_700_000_000.0


def silence(value: str = "42", comment: str = "known") -> Silence:
    return Silence((parse_matcher(f'coupon_id="{value}"'),), NOW, NOW + 3600, "alice", comment)


def test_silence_past_the_count_limit_is_refused() -> None:
    """The MAX_SILENCES+1-th silence is refused naming the limit; the others stay."""
    store = Silences(open_db(":memory:"))
    for i in range(MAX_SILENCES):
        store.set(silence(str(i)), NOW)
    with pytest.raises(SilenceError) as err:
        store.set(silence("one-more"), NOW)
    assert f"exceeded maximum number of silences: {MAX_SILENCES} (limit: {MAX_SILENCES})" == str(
        err.value
    )
    assert MAX_SILENCES == len(store.query(NOW))


def test_oversized_silence_is_refused() -> None:
    """A 1 MB comment is refused with its size and the limit; nothing is stored."""
    store = Silences(open_db(":memory:"))
    with pytest.raises(SilenceError, match=r"silence exceeded maximum size: \d+ bytes") as err:
        store.set(silence(comment="x" * 1_000_000), NOW)
    assert str(err.value).endswith(f"(limit: {MAX_SILENCE_BYTES} bytes)")
    assert [] == store.query(NOW)


def test_updating_in_place_also_checks_size() -> None:
    """Growing an existing silence's comment past the limit is refused too."""
    store = Silences(open_db(":memory:"))
    sid = store.set(silence(), NOW)
    grown = Silence(
        silence().matchers, NOW, NOW + 7200, "alice", "y" * (MAX_SILENCE_BYTES + 1), sid
    )
    with pytest.raises(SilenceError, match="silence exceeded maximum size"):
        store.set(grown, NOW)
    assert "known" == store.get(sid).comment


def test_stored_silence_re2_rejects_is_dropped_with_a_warning() -> None:
    """A silence stored with a lookahead (accepted before RE2) is dropped, not a crash."""
    db = open_db(":memory:")
    Silences(db)
    db.execute(
        "INSERT INTO notify_silences VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("old", json.dumps([["a", "=~", "(?=x)x"]]), NOW, NOW + 60, NOW, "bob", "c"),
    )
    with capture_logs() as logs:
        store = Silences(db)
    assert [] == store.query(NOW)
    assert ["silence.dropped_invalid"] == [e["event"] for e in logs]
