"""Property-based differential test: generated expressions agree with promtool 2.42."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.differential import Group, compare, group

CASES_PER_GROUP = 10
# one promtool run per 5,000 cases (a test file stays far below the YAML loader's node limit)
GROUPS_PER_FILE = 500
# CI's fast mode: 5,000 cases in one promtool run. WATCHER_DIFF_CASES raises it, and
# WATCHER_DIFF_SEED picks another fixed seed (the default keeps CI reproducible).
CASES = int(os.environ.get("WATCHER_DIFF_CASES", "5000"))
SEED = int(os.environ.get("WATCHER_DIFF_SEED", "20261201"))


def _draw_groups(count: int) -> list[Group]:
    """``count`` groups drawn by Hypothesis (the test body only collects them)."""
    drawn: list[Group] = []

    @seed(SEED)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(group(CASES_PER_GROUP))
    def collect(g: Group) -> None:
        drawn.append(g)

    collect()
    return drawn[:count]


@pytest.mark.external
def test_generated_cases_agree_with_promtool(tmp_path: Path) -> None:
    """Every generated case gives promtool's report: same samples, values, errors and text."""
    if shutil.which("promtool") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not on PATH; CI must install it (Debian package prometheus)")
        pytest.skip("promtool is not on PATH")
    groups = _draw_groups(-(-CASES // CASES_PER_GROUP))
    cases = 0
    disagreements: list[str] = []
    for start in range(0, len(groups), GROUPS_PER_FILE):
        outcome = compare(groups[start : start + GROUPS_PER_FILE], tmp_path)
        cases += outcome.cases
        disagreements += outcome.disagreements
    assert cases >= CASES
    assert [] == disagreements[:20], f"{len(disagreements)} of {cases} cases disagree"
