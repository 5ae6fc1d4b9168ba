"""Screenshot the demo's status page for the README: docs/status-desktop.png, docs/status-phone.png.

Runs ``watcher demo`` on a free port, waits until the shipped rules' alerts fire (their ``for``
is one minute), then shoots the page 1280 and 390 CSS pixels wide in headless Chromium.
Usage: ``python3 scripts/screenshots.py`` (needs what ``scripts/install-deps`` installs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import chromium, screenshot, wait_until  # noqa: E402
from tests.e2e import free_port  # noqa: E402


def firing(base: str) -> int:
    """How many alerts ``/api/v2/alerts`` lists (firing ones only)."""
    with urllib.request.urlopen(base + "/api/v2/alerts", timeout=5) as resp:  # noqa: S310
        return len(json.load(resp))


def main() -> int:
    """Run the demo, wait for firing alerts, take both screenshots."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state = tempfile.mkdtemp(prefix="watcher-shots-")
    demo = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "watcher",
            "demo",
            "--listen",
            f"127.0.0.1:{port}",
            "--state",
            state,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            try:
                if firing(base) >= 3:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            print("screenshots: the demo's alerts did not fire in time", file=sys.stderr)
            return 1
        with chromium() as driver:
            driver.get(base + "/")
            wait_until(
                driver,
                "the firing alerts",
                lambda d: d.find_elements("css selector", "article.firing"),
            )
            screenshot(driver, 1280, str(ROOT / "docs/status-desktop.png"))
            screenshot(driver, 390, str(ROOT / "docs/status-phone.png"))
    finally:
        demo.terminate()
        demo.wait(15)
    print("screenshots: docs/status-desktop.png, docs/status-phone.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
