"""The demo's /metrics against a reviewed golden file: the product's public metric interface.

Users build dashboards and alert rules on these names, so a renamed metric, a changed HELP or
TYPE, a label added or dropped, or a histogram's buckets moved is a change to review, not a
side effect. The golden file `tests/golden/demo-metrics.txt` holds every family of the demo's
exposition once every source has polled: HELP, TYPE and each series' labels. Values are left
out (they are times, durations and the simulator's amounts); series are sorted inside their
family and families by name, so the order the daemon happens to expose them in does not count.

After a deliberate change, regenerate and review the diff in the same commit:
`WATCHER_UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_golden_metrics.py`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import pytest

from tests.e2e import ROOT, free_port, poll_until
from tests.test_demo import Demo

pytestmark = pytest.mark.e2e

GOLDEN = ROOT / "tests" / "golden" / "demo-metrics.txt"

#: Every source of the demo, each of which must have polled before the scrape is compared.
SOURCES = ("coinw-demo", "coinw-affiliate-demo", "wallet-demo")


def family_of(name: str, types: dict[str, str]) -> str:
    """The family a sample belongs to (``x_bucket`` of histogram ``x`` belongs to ``x``)."""
    for suffix in ("_bucket", "_sum", "_count", "_total", "_created", "_info"):
        base = name.removesuffix(suffix)
        if base != name and base in types:
            return base
    return name


def interface(exposition: str) -> str:
    """The exposition without its values: each family's HELP and TYPE, then its series."""
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    series: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        if line.startswith("# HELP "):
            name, _, text = line.removeprefix("# HELP ").partition(" ")
            helps[name] = text
        elif line.startswith("# TYPE "):
            name, _, kind = line.removeprefix("# TYPE ").partition(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            sample = line.rsplit(" ", 1)[0]
            name = sample.split("{", 1)[0]
            series.setdefault(family_of(name, types), set()).add(sample)
    out: list[str] = []
    for name in sorted(helps.keys() | types.keys() | series.keys()):
        out.append(f"# HELP {name} {helps.get(name, '(none)')}")
        out.append(f"# TYPE {name} {types.get(name, '(none)')}")
        out.extend(sorted(series.get(name, ())))
    return "\n".join(out) + "\n"


def all_polled(exposition: str) -> bool:
    """Every demo source is up and the WebSocket is subscribed."""
    lines = set(exposition.splitlines())
    return all(f'watcher_source_up{{source="{s}"}} 1.0' in lines for s in SOURCES) and (
        'watcher_source_push_connected{source="coinw-demo"} 1.0' in lines
    )


async def scrape_once_polled(port: int, within: float) -> str:
    """/metrics once ``all_polled`` holds (bounded by ``within`` seconds)."""
    async with aiohttp.ClientSession() as session:

        async def scrape() -> str:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                return await resp.text()

        def failed(text: str | None) -> str:
            return (
                f"the demo's sources were not all up within {within}s; last /metrics:\n{text or ''}"
            )

        return await poll_until(scrape, all_polled, within, 0.3, failed)


def test_interface_keeps_names_labels_and_buckets_but_not_values() -> None:
    """The normalisation itself: values and order go, a changed label or HELP does not."""
    exposition = (
        "# HELP b_total B things.\n# TYPE b_total counter\n"
        'b_total{z="1",a="2"} 3.0\n'
        "# HELP a_seconds A.\n# TYPE a_seconds histogram\n"
        'a_seconds_bucket{le="+Inf"} 4.0\na_seconds_sum 0.25\na_seconds_count 4.0\n'
    )
    assert interface(exposition) == (
        "# HELP a_seconds A.\n# TYPE a_seconds histogram\n"
        'a_seconds_bucket{le="+Inf"}\na_seconds_count\na_seconds_sum\n'
        "# HELP b_total B things.\n# TYPE b_total counter\n"
        'b_total{z="1",a="2"}\n'
    )
    assert interface(exposition.replace("3.0", "9.5")) == interface(exposition)
    assert interface(exposition.replace('a="2"', 'b="2"')) != interface(exposition)
    assert interface(exposition.replace("B things.", "B items.")) != interface(exposition)


async def test_demo_metrics_match_the_golden_file() -> None:
    """Every family the demo exposes once all sources polled is the reviewed golden file's."""
    port = free_port()
    demo = Demo("--listen", f"127.0.0.1:{port}", "--quiet")
    await demo.start()
    try:
        got = interface(await scrape_once_polled(port, 60))
    finally:
        assert 0 == await demo.stop()
    if os.environ.get("WATCHER_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(got)
    want = GOLDEN.read_text() if GOLDEN.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            want.splitlines(keepends=True), got.splitlines(keepends=True), str(GOLDEN), "/metrics"
        )
    )
    assert not diff, (
        "the demo's metric interface changed; if on purpose, regenerate with "
        f"WATCHER_UPDATE_GOLDEN=1 and review:\n{diff}"
    )


def golden_names(golden: str) -> set[str]:
    """Every family name (``# TYPE``) and series name (``x_bucket``, ``x_total``) in ``golden``."""
    names: set[str] = set()
    for line in golden.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split(" ")[2])
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def missing_names(documented: Iterable[str], golden: str) -> list[str]:
    """The documented metric names that are neither a family nor a series of ``golden``."""
    held = golden_names(golden)
    return sorted(n for n in documented if n not in held)


def test_documented_name_must_match_exactly() -> None:
    """A documented ``watcher_foo`` is missing though ``watcher_foo_bar`` exists (no prefix
    match); a histogram's series names and its family name each count."""
    golden = (
        '# HELP watcher_foo_bar X.\n# TYPE watcher_foo_bar gauge\nwatcher_foo_bar{a="1"}\n'
        "# HELP watcher_poll_seconds P.\n# TYPE watcher_poll_seconds histogram\n"
        'watcher_poll_seconds_bucket{le="+Inf"}\nwatcher_poll_seconds_count\n'
    )
    assert ["watcher_foo", "watcher_poll"] == missing_names(
        ["watcher_foo", "watcher_foo_bar", "watcher_poll", "watcher_poll_seconds",
         "watcher_poll_seconds_bucket", "watcher_poll_seconds_count"],
        golden,
    )  # fmt: skip


def test_golden_file_names_every_documented_metric() -> None:
    """Each metric name the product documentation lists under Metrics is in the golden file
    (a documented name the demo no longer exposes is caught here)."""
    docs = (ROOT / "docs" / "product.md").read_text()
    section = docs.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    golden = Path(GOLDEN).read_text()
    documented = {
        word.strip("`")
        for word in section.split()
        if word.startswith("`")
        and word.strip("`,.:;()").startswith(("watcher_", "coinw_", "tradeboss_"))
    }
    assert documented
    names = {d.strip("`,.:;()").split("{")[0] for d in documented}
    assert [] == missing_names(names, golden)
