"""Go's math functions as the rule engine computes them (values checked with promtool 2.42)."""

from __future__ import annotations

import math

import pytest

from watcher.rules.gomath import go_ceil, go_floor, go_max, go_min, go_pow


def _sign(x: float) -> float:
    return math.copysign(1.0, x)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (1.3, 3, 2.1970000000000005),  # C's pow rounds once: 2.197
        (3, 34, 16677181699666568.0),
        (0.7, 4, 0.24009999999999992),
        (math.nan, 0, 1.0),
        (1, math.nan, 1.0),
        (-1, math.inf, 1.0),
        (0.5, math.inf, 0.0),
        (2, 0.5, math.sqrt(2)),
        (10, -2, 0.01),
        (2, 1024, math.inf),
    ],
)
def test_pow_rounds_as_go(x: float, y: float, expected: float) -> None:
    """^ gives Go's math.Pow results, bit for bit."""
    assert expected == go_pow(x, y)


def test_pow_signs_and_nan() -> None:
    """Go's special cases: (-0)^-1 = -Inf, (-Inf)^-1 = -0, negative base with a fraction NaN."""
    assert -math.inf == go_pow(-0.0, -1)
    assert go_pow(-math.inf, -1) == 0
    assert _sign(go_pow(-math.inf, -1)) < 0
    assert math.isnan(go_pow(-8, 1 / 3))


def test_ceil_floor_keep_negative_zero() -> None:
    """ceil(-0.5) and floor(-0) are -0; floor(0.5) is +0."""
    assert [-1.0, -1.0, 1.0] == [_sign(go_ceil(-0.5)), _sign(go_floor(-0.0)), _sign(go_floor(0.5))]
    assert (-1.0, 1.0) == (go_floor(-0.5), go_ceil(0.5))


def test_max_min_as_go() -> None:
    """Max prefers +0 and Min -0 whatever the order; an infinite bound beats NaN."""
    assert [1.0, 1.0, -1.0, -1.0] == [
        _sign(go_max(-0.0, 0.0)),
        _sign(go_max(0.0, -0.0)),
        _sign(go_min(0.0, -0.0)),
        _sign(go_min(-0.0, 0.0)),
    ]
    assert (math.inf, -math.inf) == (go_max(math.nan, math.inf), go_min(-math.inf, math.nan))
    assert math.isnan(go_max(math.nan, 1.0))
