"""How long each metric's samples are kept: what the loaded rules and the query API can read.

Per metric name, the longest ``range + offset`` of any rule selecting it, or the query API's
window (``storage.retention``) when that is longer, plus Prometheus's 5-minute lookback
(a sample that old still answers an instant query). A selector without a metric name
(``{__name__=~"x.*"}``, ``{job="a"}``) may read any metric, so its window applies to all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from watcher.rules.loader import RuleGroup
from watcher.rules.promql import RangeSelector, Selector

#: Prometheus's default ``--query.lookback-delta``.
LOOKBACK_MS = 5 * 60 * 1000


def _reads(node: object, past: int = 0) -> Iterator[tuple[str | None, int]]:
    """Each (metric name or None, ms into the past) the selectors under ``node`` read.

    Walks every node type generically, so a node that reads further back around its operand
    (a subquery's ``range_ms`` and ``offset_ms``) adds its window to what is under it.
    """
    if isinstance(node, RangeSelector):
        yield node.selector.name, past + node.range_ms + max(node.selector.offset_ms, 0)
        return
    if isinstance(node, Selector):
        yield node.name, past + max(node.offset_ms, 0)
        return
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    past += int(getattr(node, "range_ms", 0)) + max(int(getattr(node, "offset_ms", 0)), 0)
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        for child in value if isinstance(value, tuple) else (value,):
            yield from _reads(child, past)


@dataclass(frozen=True, slots=True)
class Retention:
    """Milliseconds of samples to keep, per metric name (lookback included)."""

    #: every metric (the query API window, or an unnamed selector's)
    default_ms: int = 0
    per_metric: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, groups: Iterable[RuleGroup], api_window_ms: int = 0) -> Retention:
        """What ``groups`` read, with at least ``api_window_ms`` for every metric."""
        default = api_window_ms
        per_metric: dict[str, int] = {}
        any_rule = False
        for group in groups:
            for rule in group.rules:
                for name, window in _reads(rule.node):
                    if not window:
                        continue
                    any_rule = True
                    if name is None:
                        default = max(default, window)
                    else:
                        per_metric[name] = max(per_metric.get(name, 0), window)
        if not default and not any_rule:
            return cls()
        extra = LOOKBACK_MS
        return cls(
            default + extra if default else 0,
            {n: w + extra for n, w in per_metric.items() if w + extra > default + extra},
        )

    def for_metric(self, name: str) -> int:
        """Milliseconds kept of metric ``name`` (0: not recorded at all)."""
        return self.per_metric.get(name, self.default_ms)

    @property
    def longest_ms(self) -> int:
        """The longest any metric is kept."""
        return max([self.default_ms, *self.per_metric.values()])


def required_retention(groups: Iterable[RuleGroup]) -> int:
    """Milliseconds of history the rules need (0 when none reads the past)."""
    return Retention.of(groups).longest_ms
