"""Instant-vector samples as the evaluator passes them around, and Prometheus's label text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from watcher.rules.gofmt import go_quote


class Sample(NamedTuple):
    """One element of an instant vector: metric name (None once dropped), labels, value."""

    name: str | None
    labels: Mapping[str, str]
    value: float


class SampleLike(Protocol):
    """A read-only sample: ``Sample``, or a snapshot ``Series`` selected without a copy."""

    @property
    def name(self) -> str | None:
        """Metric name, None once dropped."""
        ...

    @property
    def labels(self) -> Mapping[str, str]:
        """Labels without the name."""
        ...

    @property
    def value(self) -> float:
        """The value."""
        ...


Vector = list[SampleLike]
Value = float | Vector


def format_labels(name: str | None, labels: Mapping[str, str]) -> str:
    """Render a label set the way Prometheus prints it: ``{__name__="x", job="a"}``."""
    items = dict(labels)
    if name is not None:
        items["__name__"] = name
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(items.items())) + "}"
