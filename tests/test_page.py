"""The status page in-process: the view model from a daemon on a fake clock, and the HTML."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from tests.conftest import Writer
from tests.e2e import ROOT
from watcher.app import Daemon
from watcher.clock import FakeClock
from watcher.config import load_config
from watcher.page import fmt
from watcher.page.alerts import format_value
from watcher.page.model import Page, build_page
from watcher.page.render import render_page, render_parts, title
from watcher.page.ring import SampleRing
from watcher.page.thresholds import thresholds
from watcher.rules import load_rule_files
from watcher.series import Series
from watcher.simulator import DEMO_API_KEY, DEMO_SECRET_KEY, create_app, default_coupons
from watcher.simulator.state import SimState
from watcher.store import SeriesStore

HOSTILE = "<script>alert(1)</script>"
DAY = 86400.0


@pytest.fixture
async def daemon(write: Writer) -> AsyncIterator[tuple[Daemon, SimState, FakeClock]]:
    """A daemon on a fake clock against the simulator; polls run only when the test says."""
    from aiohttp import web

    # 30 s behind real time, so after the test's 61 s the signed timestamps are still within
    # the simulator's 60 s tolerance.
    clock = FakeClock(start=float(int(time.time()) - 30))
    state = SimState(coupons=default_coupons(int(clock.time() * 1000)))
    state.coupons[800000001]["remark"] = HOSTILE
    state.coupons[800000006]["type"] = 1  # unused, but past its end time
    state.invitee_rows = 900  # more invitees than the page lists
    runner = web.AppRunner(create_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    path = write(
        "w.yaml",
        f"""\
storage: {{path: ":memory:"}}
sources:
  - {{name: coupons, type: coinw_mega_coupon, base_url: "{url}", api_key: {DEMO_API_KEY},
     secret_key: {DEMO_SECRET_KEY}, statuses: [unused], interval: 1m}}
  - {{name: broken, type: coinw_mega_coupon, base_url: "{url}", api_key: "{HOSTILE}",
     secret_key: nope-secret, statuses: [unused], interval: 1m}}
  - {{name: affiliate, type: coinw_invitee_volume, base_url: "{url}", api_key: {DEMO_API_KEY},
     secret_key: {DEMO_SECRET_KEY}, interval: 1m, top_invitees: 12}}
  - name: wallet
    type: tradeboss_balance
    base_url: "{url}"
    company_id: 1
    interval: 1m
    accounts:
      - {{third_server_code: tsc-1, user_name: "86000001", currency: HKD}}
      - {{third_server_code: tsc-2, user_name: "86000003", currency: HKD}}
rule_files: ["{ROOT}/rules/*.yaml"]
inhibit_rules:
  - {{source_matchers: ['alertname="MegaCouponKycRequired"'],
     target_matchers: ['alertname="MegaCouponExpiringSoon"'], equal: [source]}}
""",
    )
    d = Daemon(load_config(path), clock=clock)
    d.make_runners()
    try:
        yield d, state, clock
    finally:
        await d.stop()
        await runner.cleanup()


async def poll(d: Daemon, state: SimState) -> None:
    """Poll every source once (the simulator's real-time rate limit forgotten), then evaluate."""
    state.last_request.clear()
    for r in d.runners.values():
        await r.poll_once()
    await d.evaluate()


async def test_model_reads_coupons_balances_sources_and_alerts(
    daemon: tuple[Daemon, SimState, FakeClock],
) -> None:
    """Coupons soonest first (expired last), the rule's window marked, low balance, down first."""
    d, state, clock = daemon
    ring = SampleRing()
    d.store.subscribe(ring.record)
    await poll(d, state)
    page = build_page(d, ring)

    (coupons,) = page.coupons
    assert ["800000001", "800000002", "800000003", "800000006"] == [
        r.coupon_id for r in coupons.rows
    ]
    assert [True, False, False, True] == [r.expiring for r in coupons.rows]
    assert HOSTILE == coupons.rows[0].remark
    assert page.coupon_window is not None
    assert 3 * DAY == page.coupon_window.value
    assert "MegaCouponExpiringSoon" == page.coupon_window.rule

    low, ok = page.balances
    assert ("86000001", 42.1098) == (low.user, low.amount)
    assert low.low is not None
    assert 1000.0 == low.low.value
    assert ok.low is None

    assert ["broken", "affiliate", "coupons", "wallet"] == [s.name for s in page.sources]
    assert ("down", "auth") == (page.sources[0].state, page.sources[0].error_reason)
    assert [("auth", 1)] == list(page.sources[0].errors)
    last = d.runners["coupons"].last_poll_at
    assert last is not None
    assert last + 60 == page.sources[2].next_poll

    (affiliate,) = page.affiliates
    snapshot = d.snapshot()
    (total,) = snapshot.select("coinw_affiliate_trading_volume")
    assert total.value == affiliate.total
    volumes = [v for _, v in affiliate.top]
    assert 10 == len(volumes)  # of the 12 the source keeps
    assert sorted(volumes, reverse=True) == volumes

    assert {"pending"} == {a.state for a in page.alerts}  # every shipped rule has a `for`
    expiring = next(a for a in page.alerts if ("coupon_id", "800000001") in a.labels)
    assert "2d 0h 0m 0s" == expiring.value  # humanizeDuration, as the rule's summary has it
    assert expiring.hold == 60.0

    clock.advance(61)
    await poll(d, state)
    page = build_page(d, ring)
    firing = [a.name for a in page.alerts if a.state == "firing"]
    # critical before warning; 800000006 is unused and past its end: the rule fires for it too
    assert [
        "AccountBalanceLow",
        "MegaCouponKycRequired",
        "MegaCouponExpiringSoon",
        "MegaCouponExpiringSoon",
    ] == firing
    balance = page.alerts[0]
    assert "42.11 HKD" == balance.value
    inhibited = [a for a in page.alerts if a.inhibited_by]
    assert ["MegaCouponExpiringSoon", "MegaCouponExpiringSoon"] == [a.name for a in inhibited]
    assert "inhibited by" in render_page(page)
    assert clock.time() == balance.since  # firing since, not pending since
    assert (42.1098, 42.1098) == page.balances[0].history
    assert 2 == len(page.affiliates[0].history)
    assert 2 == len(page.affiliates[0].history_active)


async def test_header_shows_a_failed_reload(
    daemon: tuple[Daemon, SimState, FakeClock],
) -> None:
    """A reload that fails turns the header's config badge red; the old config keeps running."""
    d, _, _ = daemon
    assert build_page(d, SampleRing()).header.reload_ok is True
    d.config.file.write_text("sources: [", encoding="utf-8")
    problems = await d.reload()
    assert 1 == len(problems)
    page = build_page(d, SampleRing())
    assert page.header.reload_ok is False
    assert "last config reload FAILED, old config running" in render_page(page)


async def test_page_escapes_every_upstream_string_and_shows_no_secret(
    daemon: tuple[Daemon, SimState, FakeClock],
) -> None:
    """A hostile remark and API key render as text; the one script is the page's own."""
    d, state, _ = daemon
    await poll(d, state)
    page = build_page(d, SampleRing())
    text = render_page(page)
    assert 1 == text.count("<script")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "nope-secret" not in text
    assert DEMO_SECRET_KEY not in text
    assert DEMO_API_KEY not in text
    assert set(render_parts(page)) == {"header", "alerts", "coupons", "balances", "sources"}


def test_hostile_alert_labels_and_silence_comment_are_escaped() -> None:
    """Labels, annotations and silence comments are escaped in text and in attributes."""
    from watcher.page.alerts import AlertRow
    from watcher.page.model import Header, SilenceRow, SourceRow

    alert = AlertRow(
        name=HOSTILE,
        state="firing",
        severity='"><b>',
        summary=HOSTILE,
        description=HOSTILE,
        value="1",
        since=0.0,
        hold=0.0,
        labels=(("x", '"><img src=x onerror=alert(1)>'),),
        fingerprint="f",
        silenced_by=(),
        inhibited_by=(),
    )
    header = Header("0", 100.0, 0.0, True, True, 0.0)
    page = Page(
        header,
        (alert,),
        0,
        1,
        (SilenceRow("id", "a=b", 0, 1, HOSTILE, HOSTILE),),
        None,
        (),
        (),
        (),
        (),
    )
    text = render_page(page)
    assert 1 == text.count("<script")
    assert "<img" not in text
    assert "<b>" not in text
    assert "1 firing · watcher" == title(page)
    down = SourceRow("s", "t", "down", 1, None, 1.0, "auth", HOSTILE, None, (("auth", 1),), None)
    with_down = replace(page, sources=(down,))
    assert "1 firing · 1 down · watcher" == title(with_down)
    assert 1 == render_page(with_down).count("<script")


def test_format_value_follows_the_rules_annotations() -> None:
    """Durations, money with its currency, as the shipped rules' annotations format them."""
    groups = {
        r.name: r
        for g in load_rule_files([ROOT / "rules/coinw.yaml", ROOT / "rules/tradeboss.yaml"])
        for r in g.alerting
    }
    assert "1d 0h 0m 0s" == format_value(groups["MegaCouponExpiringSoon"], {}, DAY)
    assert "42.11 HKD" == format_value(groups["AccountBalanceLow"], {"currency": "HKD"}, 42.1098)
    assert "1" == format_value(groups["MegaCouponKycRequired"], {}, 1.0)


def test_thresholds_come_from_the_loaded_rules() -> None:
    """The coupon window and the balance threshold are read out of the shipped rules."""
    groups = load_rule_files([ROOT / "rules/coinw.yaml", ROOT / "rules/tradeboss.yaml"])
    (window,) = thresholds(groups, "coinw_mega_coupon_expiry_timestamp_seconds")
    assert (window.op, window.value, window.until) == ("<", 3 * DAY, True)
    assert window.applies({"status": "unused"})
    assert not window.applies({"status": "used"})
    assert window.crossed(1000 + DAY, 1000)
    assert not window.crossed(1000 + 4 * DAY, 1000)
    (low,) = thresholds(groups, "tradeboss_account_balance")
    assert (low.op, low.value, low.until) == ("<", 1000.0, False)


def test_formats() -> None:
    """Durations keep two units; relative times say in/ago; money keeps its decimals."""
    assert "2d 3h" == fmt.duration(2 * DAY + 3 * 3600 + 59)
    assert "42s" == fmt.duration(42)
    assert "in 5m" == fmt.relative(400, 100)
    assert "5m ago" == fmt.relative(100, 400)
    assert "never" == fmt.relative(None, 1)
    assert "42.1098" == fmt.amount(42.1098)
    assert "18,230.00" == fmt.amount(18230.0)
    assert "2026-12-01 00:00 UTC" == fmt.absolute(1796083200)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", fmt.iso(0.0))


def test_ring_keeps_recent_watched_samples_bounded() -> None:
    """The store tells the ring of every write; it keeps the last N of watched series only."""
    store = SeriesStore()
    ring = SampleRing(size=3, max_series=1)
    store.subscribe(ring.record)
    labels = {"source": "w", "currency": "HKD"}
    for t in range(5):
        store.put("w", "g", [Series("tradeboss_account_balance", labels, float(t))], float(t))
        store.put("w", "other", [Series("unwatched", {}, 1.0)], float(t))
    store.put("w", "g", [Series("tradeboss_account_balance", labels, 9.0)], 4.0)  # same instant
    store.put("w", "h", [Series("tradeboss_account_balance", {"source": "x"}, 1.0)], 5.0)
    assert (2.0, 3.0, 9.0) == ring.values("tradeboss_account_balance", labels)
    assert () == ring.values("unwatched", {})
    assert () == ring.values("tradeboss_account_balance", {"source": "x"})  # over max_series
    assert 1 == len(ring)


async def test_tables_are_bounded_soonest_expiries_kept(
    daemon: tuple[Daemon, SimState, FakeClock],
) -> None:
    """However many coupons a source holds, the page lists the 200 expiring soonest."""
    d, _, clock = daemon
    now = clock.time()
    series = [
        Series(
            "coinw_mega_coupon_expiry_timestamp_seconds",
            {"source": "bulk", "coupon_id": str(i), "status": "unused"},
            now + DAY * (i + 1),
        )
        for i in range(250)
    ]
    d.store.configure("bulk", 3600)
    d.store.put("bulk", "unused", series, now)
    page = build_page(d, SampleRing())
    (bulk,) = page.coupons
    assert (200, 50) == (len(bulk.rows), bulk.more)
    assert [str(i) for i in range(200)] == [r.coupon_id for r in bulk.rows]
    assert "250 coupons" in render_page(page)
    assert "50 more, later expiries" in render_page(page)


async def test_page_headers_forbid_any_other_script(
    daemon: tuple[Daemon, SimState, FakeClock],
) -> None:
    """GET / sends a CSP naming its own inline script and style by hash; parts are JSON."""
    import base64
    import hashlib

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from watcher.page import add_page_routes
    from watcher.page.assets import CSS, SCRIPT

    d, state, _ = daemon
    await poll(d, state)
    app = web.Application()
    add_page_routes(app, d)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/")
        csp = resp.headers["Content-Security-Policy"]
        text = await resp.text()
        parts = await (await client.get("/page/parts")).json()
    for inline in (SCRIPT, CSS):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
        assert inline in text
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "no-store" == resp.headers["Cache-Control"]
    assert {"header", "alerts", "coupons", "balances", "sources"} == set(parts["parts"])
    assert parts["parts"]["coupons"] in text  # the script swaps in what the page was built from


def test_read_only_silences_show_no_form_and_no_expire_button() -> None:
    """With server.api.silences read-only the page offers no write, and says why."""
    from watcher.page.alerts import AlertRow
    from watcher.page.model import Header, SilenceRow

    alert = AlertRow("A", "firing", "critical", "s", "", "1", 0.0, 0.0, (("a", "b"),), "f", (), ())
    silence = SilenceRow("id1", 'a="b"', 0, 1000, "me", "c")
    page = Page(
        Header("0", 100.0, 0.0, True, True, 0.0), (alert,), 0, 1, (silence,), None, (), (), (), ()
    )
    assert "<form" in render_page(page)
    assert 'class="expire"' in render_page(page)
    text = render_page(replace(page, silences_api="read-only"))
    assert "<form" not in text
    assert 'class="expire"' not in text
    assert "Silences are read-only here" in text


def test_sparkline_draws_low_to_high_and_escapes_its_title() -> None:
    """Rising values climb left to right; a constant sits midway; one value draws nothing."""
    from watcher.page.markup import sparkline

    assert 'points="0.0,22.0 50.0,12.0 100.0,2.0"' in sparkline([1.0, 2.0, 3.0], "t")
    assert 'points="0.0,12.0 100.0,12.0"' in sparkline([5.0, 5.0], "t")
    assert "" == sparkline([5.0], "t")
    assert "<title>&lt;b&gt;</title>" in sparkline([1.0, 2.0], "<b>")


async def test_silences_are_bounded_too(daemon: tuple[Daemon, SimState, FakeClock]) -> None:
    """Past 200 active silences the page lists 200 and says how many more there are."""
    from watcher.matchers import Matcher
    from watcher.notify.silences import Silence

    d, _, clock = daemon
    now = clock.time()
    for i in range(203):
        matcher = Matcher.make("coupon_id", "=", str(i))
        d.dispatcher.put_silence(Silence((matcher,), now, now + 3600, "me", "bulk"))
    page = build_page(d, SampleRing())
    assert (200, 3) == (len(page.silences), page.more_silences)
    assert "3 more active silences" in render_page(page)
