"""Prometheus's name rules, in one place: label names and metric names."""

from __future__ import annotations

import re

#: A label name, as Prometheus's ``model.LabelNameRE``.
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: A metric name, as Prometheus's ``model.MetricNameRE``.
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def is_label_name(name: str) -> bool:
    """Whether ``name`` is a valid label name."""
    return LABEL_NAME.match(name) is not None
