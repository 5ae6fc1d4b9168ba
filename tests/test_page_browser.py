"""The status page in a real headless Chromium, served by the real daemon against the simulator."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser import chromium, require_browser, screenshot, wait_until
from tests.conftest import Writer
from tests.e2e import ROOT, Daemon, Simulator, free_port, served_from, sim_coupons

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

pytestmark = pytest.mark.e2e

REMARK = "<script>alert(1)</script>"
RULES = """\
groups:
  - name: page
    rules:
      - alert: AccountBalanceLow
        expr: tradeboss_account_balance < 1000
        labels: {severity: critical}
        annotations:
          summary: 'Balance of {{ $labels.user_name }} is {{ printf "%.2f" $value }} {{ $labels.currency }}'
          description: 'Account {{ $labels.user_name }} is below 1000.'
"""


def write_config(write: Writer, sim: Simulator, port: int) -> Path:
    write("page-rules.yaml", RULES)
    coupons = sim_coupons(sim.url, "coupons", interval="1s", statuses="[unused]")
    return write(
        "watcher.yaml",
        f"""\
{served_from(write.root, port)}sources:
{coupons}  - name: wallet
    type: tradeboss_balance
    base_url: {sim.url}
    company_id: 1
    interval: 1s
    accounts:
      - {{third_server_code: tsc-1, user_name: "86000001", currency: HKD}}
      - {{third_server_code: tsc-1, user_name: "86000002", currency: USD}}
rule_files: ["{ROOT}/rules/coinw.yaml", page-rules.yaml]
""",
    )


@pytest.fixture
async def daemon(sim: Simulator, write: Writer) -> AsyncIterator[Daemon]:
    """The daemon, started once the coupon carries a hostile remark, ready and alerting."""
    require_browser()
    sim.state.coupons[800000001]["remark"] = REMARK
    port = free_port()
    d = Daemon(write_config(write, sim, port), port)
    await d.start()
    try:
        await d.wait_for(
            lambda m: m.get('watcher_alerts{alertname="AccountBalanceLow",state="firing"}') == 1.0
        )
        yield d
    finally:
        await d.kill()


def post_json(url: str, body: dict[str, Any]) -> None:
    """POST ``body`` to the simulator's control API (from the browser thread)."""
    req = urllib.request.Request(  # noqa: S310 - a 127.0.0.1 URL the test built
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        assert resp.status == 200


def rows(driver: WebDriver, section: str) -> list[WebElement]:
    """The table rows of one part of the page."""
    return list(driver.find_elements("css selector", f"#{section} tbody tr"))


def row_with(driver: WebDriver, section: str, text: str) -> WebElement | None:
    """The first row of ``section`` whose text contains ``text``."""
    return next((r for r in rows(driver, section) if text in r.text), None)


def text_of_row(driver: WebDriver, section: str, text: str) -> str | None:
    """The text of the first row of ``section`` containing ``text``."""
    row = row_with(driver, section, text)
    return None if row is None else str(row.text)


def row_facts(driver: WebDriver, section: str) -> list[tuple[str, str]]:
    """(text, class) of every row of ``section``."""
    return [(r.text, r.get_attribute("class") or "") for r in rows(driver, section)]


def coupon_facts(driver: WebDriver) -> tuple[str, str, str] | None:
    """Text, class and remark of coupon 800000001's row."""
    row = row_with(driver, "coupons", "800000001")
    if row is None:
        return None
    return (
        row.text,
        row.get_attribute("class") or "",
        row.find_element("css selector", ".remark").text,
    )


def alert_facts(driver: WebDriver) -> tuple[list[tuple[str, str]], list[str]]:
    """(text, summary) of every firing alert, and the text of every pending one."""
    firing = [
        (a.text, a.find_element("css selector", ".summary").text)
        for a in driver.find_elements("css selector", "#alerts article.alert.firing")
    ]
    pending = [
        a.text for a in driver.find_elements("css selector", "#alerts article.alert.pending")
    ]
    return firing, pending


def open_silence_form(driver: WebDriver) -> WebElement:
    """Open the firing alert's silence form; its form, once open."""
    alert = driver.find_element("css selector", "#alerts article.alert.firing")
    alert.find_element("css selector", "details.silence summary").click()
    return driver.find_element(
        "css selector", "#alerts article.alert.firing details.silence[open] form"
    )


def expire_silence(driver: WebDriver) -> bool:
    """Click the Expire button of the silence the test made."""
    row = row_with(driver, "alerts", "browser-test")
    if row is None:
        return False
    row.find_element("css selector", "button.expire").click()
    return True


def browse(base: str, sim_url: str, shots: Path) -> None:
    """Everything the browser does; runs in a thread so the in-process simulator keeps serving."""
    with chromium() as driver:
        driver.get(base + "/")
        wait_until(
            driver,
            "both sources up",
            lambda d: all(
                (r := row_with(d, "sources", name)) is not None and " up" in f" {r.text}"
                for name in ("coupons", "wallet")
            ),
        )

        # The script swaps parts every few seconds: each read takes what it needs in one go
        # and is retried when a swap made its elements stale.
        text, cls, remark = wait_until(driver, "coupon 800000001", coupon_facts)
        assert re.search(r"in 1d 23h\b", text), text
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text), text
        assert "expiring" in cls
        assert REMARK == remark
        assert 1 == driver.execute_script("return document.scripts.length")

        firing, pending = wait_until(driver, "the alerts", alert_facts)
        assert 1 == len(firing), firing
        assert "AccountBalanceLow" in firing[0][0]
        assert "Balance of 86000001 is 42.11 HKD" == firing[0][1]
        expiring = [t for t in pending if "MegaCouponExpiringSoon" in t]
        assert 1 == len(expiring), pending
        assert "pending since" in expiring[0]
        assert "expires in 1d 23h" in expiring[0]

        balances = wait_until(driver, "the balances", lambda d: row_facts(d, "balances"))
        low = next(r for r in balances if "86000001" in r[0])
        assert "42.1098 HKD" in low[0]
        assert "low" in low[1]
        assert any("2,500.50 USD" in t for t, _ in balances)

        # A silence from the page, then its one-click expiry. An open form is never swapped.
        form = wait_until(driver, "the silence form open", open_silence_form)
        form.find_element("name", "createdBy").send_keys("browser-test")
        seen = driver.execute_script("return document.body.dataset.updated || ''")
        wait_until(
            driver,
            "a refresh",
            lambda d: d.execute_script("return document.body.dataset.updated || ''") != seen,
        )
        assert "browser-test" == form.find_element("name", "createdBy").get_attribute("value")
        form.find_element("name", "comment").send_keys("topping up")
        form.find_element("css selector", "button[type=submit]").click()
        silence = wait_until(
            driver, "the new silence listed", lambda d: text_of_row(d, "alerts", "browser-test")
        )
        assert 'alertname="AccountBalanceLow"' in silence
        wait_until(
            driver,
            "the alert shown silenced",
            lambda d: (
                "silenced by" in d.find_element("css selector", "#alerts article.firing").text
            ),
        )
        wait_until(driver, "Expire clicked", expire_silence)
        wait_until(
            driver,
            "the silence gone",
            lambda d: "No silence in force." in d.find_element("id", "alerts").text,
        )

        # Upstream changes; the page follows without a reload, also the part whose silence
        # form was opened and closed again (its summary keeps the focus).
        focused = driver.execute_script(
            "var s = document.querySelector('#alerts details.silence summary');"
            "s.focus(); s.click(); s.click(); return document.activeElement.tagName;"
        )
        assert "SUMMARY" == focused
        driver.execute_script("window.notReloaded = true")
        post_json(
            sim_url + "/_sim/balances",
            {
                "third_server_code": "tsc-1",
                "user_name": "86000001",
                "currency": "HKD",
                "amount": "5000.25",
                "amount_digits": 2,
            },
        )
        post_json(sim_url + "/_sim/coupons/800000099", {"type": 1, "remark": "fresh coupon"})
        wait_until(
            driver,
            "the new balance and the new coupon",
            lambda d: (
                row_with(d, "balances", "5,000.25 HKD") is not None
                and row_with(d, "coupons", "800000099") is not None
            ),
        )
        wait_until(
            driver,
            "the resolved alert gone",
            lambda d: "AccountBalanceLow" not in d.find_element("id", "alerts").text,
        )
        assert driver.execute_script("return window.notReloaded === true")

        screenshot(driver, 1280, str(shots / "desktop.png"))
        screenshot(driver, 390, str(shots / "phone.png"))
        assert 390 == driver.execute_script("return window.innerWidth")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    for name in ("desktop.png", "phone.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with chromium(javascript=False) as driver:  # the page is whole without its script
        driver.get(base + "/")
        assert row_with(driver, "balances", "5,000.25 HKD") is not None
        coupon = row_with(driver, "coupons", "800000001")
        assert coupon is not None
        assert REMARK == coupon.find_element("css selector", ".remark").text
        driver.find_element("css selector", "#alerts details.silence summary").click()
        hint = driver.find_element("css selector", "#alerts details.silence[open] noscript p")
        assert hint.text.startswith("Without JavaScript: amtool silence add")


async def test_page_in_chromium_shows_everything_and_follows_upstream(
    daemon: Daemon, sim: Simulator, tmp_path: Path
) -> None:
    """Sources, coupons with expiry, alerts, escaped remark, balances; silence; live updates."""
    started = time.monotonic()
    await asyncio.to_thread(browse, daemon.base, sim.url, tmp_path)
    assert time.monotonic() - started < 60
