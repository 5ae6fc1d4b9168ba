"""Functions over range vectors (``rate(x[5m])``, ``avg_over_time``...), as Prometheus 2.42.

Each function gets one series' points inside the range, oldest first, stale markers already
left out, and returns the output value or None when Prometheus drops the series. The
arithmetic follows promql/functions.go of v2.42 operation by operation (Kahan sums where it
uses them, the same extrapolation in ``extrapolatedRate``) because promtool compares floats
bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from watcher.errors import RuleError
from watcher.rules.gomath import go_div, go_floor, go_max, go_min

Point = tuple[int, float]  # (milliseconds, value)


def go_seconds(ms: int) -> float:
    """Go's ``time.Duration.Seconds()`` for a whole number of milliseconds."""
    sec, rest = divmod(abs(ms), 1000)
    value = float(sec) + float(rest * 1_000_000) / 1e9
    return -value if ms < 0 else value


def extrapolated_rate(
    points: Sequence[Point], start_ms: int, end_ms: int, range_ms: int, *, counter: bool, rate: bool
) -> float | None:
    """``rate`` / ``increase`` / ``delta`` (functions.go extrapolatedRate)."""
    if len(points) < 2:
        return None
    first_t, first_v = points[0]
    last_t, last_v = points[-1]
    result = last_v - first_v
    if counter:
        prev = first_v
        for _, v in points[1:]:
            if v < prev:
                result += prev
            prev = v
    to_start = float(first_t - start_ms) / 1000
    to_end = float(end_ms - last_t) / 1000
    sampled = float(last_t - first_t) / 1000
    average = sampled / float(len(points) - 1)
    if counter and result > 0 and first_v >= 0:
        to_zero = sampled * (first_v / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    factor = interval / sampled
    if rate:
        factor /= go_seconds(range_ms)
    return result * factor


def instant_value(points: Sequence[Point], *, rate: bool) -> float | None:
    """``irate`` / ``idelta``: the last two points (functions.go instantValue)."""
    if len(points) < 2:
        return None
    (prev_t, prev_v), (last_t, last_v) = points[-2], points[-1]
    value = last_v if rate and last_v < prev_v else last_v - prev_v
    interval = last_t - prev_t
    if interval == 0:
        return None
    if rate:
        value /= float(interval) / 1000
    return value


def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """One step of Neumaier's compensated sum (functions.go kahanSumInc)."""
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def linear_regression(points: Sequence[Point], intercept_ms: int) -> tuple[float, float]:
    """Least-squares slope and intercept at ``intercept_ms`` (functions.go linearRegression)."""
    n = 0.0
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = points[0][1]
    const_y = True
    for i, (t, v) in enumerate(points):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = float(t - intercept_ms) / 1e3
        sum_x, c_x = kahan_inc(x, sum_x, c_x)
        sum_y, c_y = kahan_inc(v, sum_y, c_y)
        sum_xy, c_xy = kahan_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return math.nan, math.nan
        return 0.0, init_y
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    cov_xy = sum_xy - go_div(sum_x * sum_y, n)
    var_x = sum_x2 - go_div(sum_x * sum_x, n)
    slope = go_div(cov_xy, var_x)
    intercept = go_div(sum_y, n) - go_div(slope * sum_x, n)
    return slope, intercept


def _avg(values: Sequence[float]) -> float:
    mean = c = count = 0.0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue
            if not math.isinf(v) and not math.isnan(v):
                continue
        mean, c = kahan_inc(v / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def _sum(values: Sequence[float]) -> float:
    total = c = 0.0
    for v in values:
        total, c = kahan_inc(v, total, c)
    return total if math.isinf(total) else total + c


def _min(values: Sequence[float]) -> float:
    out = values[0]
    for v in values:
        if v < out or math.isnan(out):
            out = v
    return out


def _max(values: Sequence[float]) -> float:
    out = values[0]
    for v in values:
        if v > out or math.isnan(out):
            out = v
    return out


def _variance(values: Sequence[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in values:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 or math.isnan(x) else math.nan


def quantile(q: float, values: Sequence[float]) -> float:
    """Prometheus's quantile: weighted between the two nearest ranks (quantile.go)."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda v: (0, 0.0) if math.isnan(v) else (1, v))
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = go_max(0, go_floor(rank))
    upper = go_min(n - 1, lower + 1)
    weight = rank - go_floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def _changes(values: Sequence[float]) -> float:
    changes = 0
    prev = values[0]
    for v in values[1:]:
        if v != prev and not (math.isnan(v) and math.isnan(prev)):
            changes += 1
        prev = v
    return float(changes)


def _resets(values: Sequence[float]) -> float:
    resets = 0
    prev = values[0]
    for v in values[1:]:
        if v < prev:
            resets += 1
        prev = v
    return float(resets)


def holt_winters(values: Sequence[float], sf: float, tf: float) -> float | None:
    """Double exponential smoothing (functions.go funcHoltWinters)."""
    if sf <= 0 or sf >= 1:
        msg = f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}"
        raise RuleError(msg)
    if tf <= 0 or tf >= 1:
        msg = f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}"
        raise RuleError(msg)
    if len(values) < 2:
        return None
    s0, s1 = 0.0, values[0]
    b = values[1] - values[0]
    for i in range(1, len(values)):
        x = sf * values[i]
        if i - 1 != 0:
            b = tf * (s1 - s0) + (1 - tf) * b
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


OVER_TIME: dict[str, Callable[[Sequence[float]], float]] = {
    "avg_over_time": _avg,
    "sum_over_time": _sum,
    "min_over_time": _min,
    "max_over_time": _max,
    "count_over_time": lambda values: float(len(values)),
    "last_over_time": lambda values: values[-1],
    "present_over_time": lambda _: 1.0,
    "stddev_over_time": lambda values: _sqrt(_variance(values)),
    "stdvar_over_time": _variance,
    "changes": _changes,
    "resets": _resets,
}


def apply(
    func: str,
    points: Sequence[Point],
    scalars: Sequence[float],
    start_ms: int,
    end_ms: int,
    at_ms: int,
) -> float | None:
    """``func`` over one series' points in [start_ms, end_ms]; None drops the series.

    ``scalars`` are the function's other arguments in order; ``at_ms`` is the evaluation time.
    """
    range_ms = end_ms - start_ms
    if func in ("rate", "increase", "delta"):
        return extrapolated_rate(
            points, start_ms, end_ms, range_ms, counter=func != "delta", rate=func == "rate"
        )
    if func in ("irate", "idelta"):
        return instant_value(points, rate=func == "irate")
    if func in ("deriv", "predict_linear"):
        if len(points) < 2:
            return None
        if func == "deriv":
            return linear_regression(points, points[0][0])[0]
        slope, intercept = linear_regression(points, at_ms)
        return slope * scalars[0] + intercept
    values = [v for _, v in points]
    if func == "quantile_over_time":
        return quantile(scalars[0], values)
    if func == "holt_winters":
        return holt_winters(values, scalars[0], scalars[1])
    if func == "absent_over_time":
        return 1.0
    return OVER_TIME[func](values)
