"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium.

No browser is downloaded: the system binaries are named explicitly, so Selenium Manager never
runs. Waits poll a condition until a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
T = TypeVar("T")


def require_browser() -> None:
    """Skip when Chromium or Selenium is missing, except in CI, where that is a failure."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        msg = f"missing {', '.join(missing)}: run bash scripts/install-deps"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@contextmanager
def chromium(
    width: int = 1280, height: int = 900, *, javascript: bool = True
) -> Iterator[WebDriver]:
    """A fresh headless Chromium with its own profile folder, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="watcher-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if not javascript:
        options.add_argument("--blink-settings=scriptEnabled=false")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_until(
    driver: WebDriver, what: str, check: Callable[[WebDriver], T | None], timeout: float = 20.0
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    msg = f"not within {timeout}s: {what}"
    try:
        got = WebDriverWait(
            driver, timeout, poll_frequency=0.1, ignored_exceptions=(WebDriverException,)
        ).until(check)
    except TimeoutException:
        raise AssertionError(msg) from None
    if got is None:  # until() returns only truthy values; this narrows the type
        raise AssertionError(msg)
    return got


def viewport(driver: WebDriver, width: int, height: int) -> None:
    """Emulate a screen ``width`` x ``height`` CSS pixels (a phone below 600 px wide).

    Chromium will not shrink a window below 500 px, so narrow widths are emulated over CDP.
    """
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def screenshot(driver: WebDriver, width: int, path: str) -> None:
    """A full-page screenshot ``width`` CSS pixels wide; the viewport stays that wide after."""
    viewport(driver, width, 900)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    viewport(driver, width, height)
    driver.save_screenshot(path)
    viewport(driver, width, 900)
