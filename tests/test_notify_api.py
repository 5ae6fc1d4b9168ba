"""The Alertmanager API v2 routes, checked with aiohttp's client and with the real amtool."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.am_support import needs_amtool, run_amtool
from tests.notify_support import coupon_alert, dispatcher, dispatching, make_config, serve_api
from watcher.clock import FakeClock, SystemClock
from watcher.config import (
    HttpConfig,
    ReceiverConfig,
    RouteConfig,
    Secret,
    SlackConfig,
    WebhookConfig,
)
from watcher.matchers import parse_matcher
from watcher.notify import Dispatcher, Silence

CONFIG = make_config(
    [
        ReceiverConfig(
            name="oncall",
            slack_configs=(
                SlackConfig(
                    api_url=Secret("https://hooks.slack.com/services/T0/B0/XXSECRETXX"),
                    channel="#oncall",
                    http=HttpConfig(bearer_token=Secret("TOKENSECRET")),
                ),
            ),
        ),
        ReceiverConfig(
            name="hook",
            webhook_configs=(
                WebhookConfig(
                    url=Secret("https://user:PASSSECRET@hooks.internal/alerts"),
                    http=HttpConfig(basic_auth=("bob", Secret("BASICSECRET"))),
                ),
            ),
        ),
    ],
    RouteConfig(receiver="oncall", group_by=("alertname",), group_wait=30),
)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, Dispatcher]]:
    """The API on 127.0.0.1 with one firing coupon alert."""
    clock = SystemClock()
    async with dispatching(CONFIG, tmp_path / "s.db", clock) as d:
        now = clock.time()
        await d.send(
            [coupon_alert("42", starts=now - 60), coupon_alert("43", starts=now - 60)], now
        )
        async with serve_api(d) as url:
            yield url, d


async def amtool(url: str, *args: str) -> tuple[int, str]:
    """Run the real amtool against ``url``; return exit code and standard output."""
    return await run_amtool(f"--alertmanager.url={url}", *args)


@needs_amtool
async def test_amtool_adds_queries_and_expires_silences_and_lists_alerts(
    server: tuple[str, Dispatcher],
) -> None:
    """amtool silence add / query / expire and alert query work unchanged against the watcher."""
    url, d = server
    code, out = await amtool(url, "alert", "query", "-o", "json")
    assert 0 == code, out
    assert ["42", "43"] == sorted(a["labels"]["coupon_id"] for a in json.loads(out))

    code, out = await amtool(
        url,
        "silence",
        "add",
        "coupon_id=42",
        "--comment=known issue",
        "--author=alice",
        "--duration=2h",
    )
    assert 0 == code, out
    silence_id = out.strip()
    assert [silence_id] == [s.id for s in d.silences()]

    code, out = await amtool(url, "silence", "query", "-o", "json")
    assert 0 == code, out
    [listed] = json.loads(out)
    assert (silence_id, "alice", "known issue", "active") == (
        listed["id"],
        listed["createdBy"],
        listed["comment"],
        listed["status"]["state"],
    )
    assert [{"name": "coupon_id", "value": "42", "isRegex": False, "isEqual": True}] == listed[
        "matchers"
    ]

    code, out = await amtool(url, "alert", "query", "-o", "json")
    assert 0 == code, out
    assert ["43"] == [a["labels"]["coupon_id"] for a in json.loads(out)]  # 42 is silenced
    code, out = await amtool(url, "alert", "query", "--silenced", "-o", "json")
    assert 0 == code, out
    states = {
        a["labels"]["coupon_id"]: (a["status"]["state"], a["status"]["silencedBy"])
        for a in json.loads(out)
    }
    assert {"42": ("suppressed", [silence_id])} == states  # --silenced alone: active=false

    code, out = await amtool(url, "silence", "expire", silence_id)
    assert 0 == code, out
    code, out = await amtool(url, "silence", "query", "-q")
    assert (0, "") == (code, out.strip())
    assert "expired" == d.get_silence(silence_id).state(d.now())


@needs_amtool
async def test_amtool_config_show_hides_every_secret(server: tuple[str, Dispatcher]) -> None:
    """amtool config show prints the routing config with secrets redacted."""
    url, _ = server
    code, out = await amtool(url, "config", "show")
    assert 0 == code, out
    assert "receiver: oncall" in out
    for secret in ("XXSECRETXX", "TOKENSECRET", "PASSSECRET", "BASICSECRET", "hooks.slack.com"):
        assert secret not in out


async def test_post_silence_rejects_bad_input_like_alertmanager(
    server: tuple[str, Dispatcher],
) -> None:
    """Past end times and matchers that match everything are refused with 400."""
    url, _ = server
    async with aiohttp.ClientSession() as s:
        past = {
            "matchers": [{"name": "a", "value": "b", "isRegex": False}],
            "startsAt": "2020-01-01T00:00:00Z",
            "endsAt": "2020-01-01T01:00:00Z",
            "createdBy": "x",
            "comment": "y",
        }
        async with s.post(f"{url}/api/v2/silences", json=past) as resp:
            assert (400, "failed to create silence: end time can't be in the past") == (
                resp.status,
                await resp.json(),
            )
        empty = dict(
            past,
            matchers=[{"name": "a", "value": ".*", "isRegex": True}],
            endsAt="2999-01-01T00:00:00Z",
        )
        async with s.post(f"{url}/api/v2/silences", json=empty) as resp:
            assert 400 == resp.status
        async with s.get(f"{url}/api/v2/silence/nope") as resp:
            assert 404 == resp.status
        async with s.delete(f"{url}/api/v2/silence/nope") as resp:
            assert 404 == resp.status


@pytest.mark.parametrize(
    ("matchers", "error"),
    [
        (5, "matchers: expected a non-empty list"),
        ([], "matchers: expected a non-empty list"),
        (
            [{"name": "a", "value": "b", "isRegex": "false"}],
            "matchers[0]: isRegex and isEqual must be true or false",
        ),
    ],
)
async def test_post_silence_rejects_wrong_types_with_400(
    server: tuple[str, Dispatcher], matchers: object, error: str
) -> None:
    """Wrong JSON types are a 400 naming the field, never a 500 or a silently wrong silence."""
    url, d = server
    body = {
        "matchers": matchers,
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "x",
        "comment": "y",
    }
    async with aiohttp.ClientSession() as s, s.post(f"{url}/api/v2/silences", json=body) as resp:
        assert (400, f"failed to create silence: {error}") == (resp.status, await resp.json())
    assert [] == d.silences()


async def test_silence_update_with_new_matchers_replaces_it(
    server: tuple[str, Dispatcher],
) -> None:
    """Posting a known id with changed matchers expires it and creates a new silence."""
    url, d = server
    body = {
        "matchers": [{"name": "coupon_id", "value": "42", "isRegex": False}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "x",
        "comment": "y",
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/v2/silences", json=body) as resp:
            first = (await resp.json())["silenceID"]
        async with s.get(f"{url}/api/v2/silence/{first}") as resp:
            stored = await resp.json()
        # An active silence keeps its id when only comment/end change and startsAt is as stored.
        same = dict(body, id=first, comment="longer", startsAt=stored["startsAt"])
        async with s.post(f"{url}/api/v2/silences", json=same) as resp:
            assert first == (await resp.json())["silenceID"]
        changed = dict(same, matchers=[{"name": "coupon_id", "value": "43", "isRegex": False}])
        async with s.post(f"{url}/api/v2/silences", json=changed) as resp:
            second = (await resp.json())["silenceID"]
    assert first != second
    states = {s.id: s.state(d.now()) for s in d.silences()}
    assert {first: "expired", second: "active"} == states
    assert "longer" == d.get_silence(first).comment


async def test_silences_survive_a_restart(tmp_path: Path) -> None:
    """A silence stored by one dispatcher is active in the next one on the same file."""
    clock = FakeClock()
    now = clock.time()

    def make(session: aiohttp.ClientSession) -> Dispatcher:
        return dispatcher(CONFIG, tmp_path / "s.db", session, clock)

    async with aiohttp.ClientSession() as session:
        sid = make(session).put_silence(
            Silence((parse_matcher('a="b"'),), now, now + 60, "me", "c")
        )
        assert [(sid, "active")] == [(s.id, s.state(now)) for s in make(session).silences()]
