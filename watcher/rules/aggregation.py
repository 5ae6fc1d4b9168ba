"""Aggregation operators' accumulators (``sum min max avg count``), as Prometheus 2.42."""

from __future__ import annotations

import math


def agg_start(op: str, value: float) -> list[float]:
    # [value, count, mean]: avg is the mean, the rest keep their result in value
    return [1.0 if op == "count" else value, 1.0, value]


def agg_add(op: str, acc: list[float], value: float) -> None:
    acc[1] += 1
    if op == "sum":
        acc[0] += value
    elif op == "avg":
        _running_mean(acc, value)
    elif op == "count":
        acc[0] += 1
    elif op == "min":
        if acc[0] > value or math.isnan(acc[0]):
            acc[0] = value
    elif acc[0] < value or math.isnan(acc[0]):
        acc[0] = value


def _running_mean(acc: list[float], value: float) -> None:
    """Prometheus 2.42's incremental mean (promql/engine.go aggregation, case AVG)."""
    mean, n = acc[2], acc[1]
    if math.isinf(mean):
        if math.isinf(value) and (mean > 0) == (value > 0):
            return
        if not math.isinf(value) and not math.isnan(value):
            return
    # each side of the "-" divided by n to avoid overflow, exactly as Prometheus writes it
    acc[2] = mean + (value / n - mean / n)


def agg_result(op: str, acc: list[float]) -> float:
    return acc[2] if op == "avg" else acc[0]
