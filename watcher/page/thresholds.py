"""What the loaded rules compare a metric with, so the page highlights what they would alert on.

The page does not hard-code "3 days" or "1000": it reads the comparison out of the rules that
are loaded (``metric < N`` or ``(metric - time()) < N``, the shapes of the shipped rules), so an
edited threshold moves the highlight with it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from watcher.matchers import Matcher
from watcher.rules import RuleGroup
from watcher.rules.promql import Binary, Call, Negate, Node, Number, Selector

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """``metric{matchers} op value`` (``until``: ``(metric - time()) op value``) from one rule."""

    rule: str
    file: str
    op: str
    value: float
    matchers: tuple[Matcher, ...]
    until: bool = False

    def applies(self, labels: Mapping[str, str]) -> bool:
        """Whether the rule's selector picks a series with ``labels``."""
        return all(m.matches(labels) for m in self.matchers)

    def crossed(self, value: float, now: float) -> bool:
        """Whether ``value`` (an instant when ``until``) satisfies the rule's comparison."""
        x = value - now if self.until else value
        return _OPS[self.op](x, self.value)


def thresholds(groups: Sequence[RuleGroup], metric: str) -> list[Threshold]:
    """Every comparison of ``metric`` with a constant in the alerting rules of ``groups``."""
    out: list[Threshold] = []
    for group in groups:
        for rule in group.alerting:
            for node in _walk(rule.node):
                found = _comparison(node, metric)
                if found is not None:
                    op, value, selector, until = found
                    out.append(
                        Threshold(rule.name, group.file, op, value, selector.matchers, until)
                    )
    return out


def first_crossed(
    found: Sequence[Threshold], labels: Mapping[str, str], value: float, now: float
) -> Threshold | None:
    """The first threshold that applies to the series and that its value crosses."""
    for t in found:
        if t.applies(labels) and t.crossed(value, now):
            return t
    return None


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Binary):
        yield from _walk(node.lhs)
        yield from _walk(node.rhs)
    elif isinstance(node, Negate):
        yield from _walk(node.expr)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _walk(arg)


def _comparison(node: Node, metric: str) -> tuple[str, float, Selector, bool] | None:
    if not isinstance(node, Binary) or node.op not in _OPS or node.return_bool:
        return None
    for side, other, op in ((node.lhs, node.rhs, node.op), (node.rhs, node.lhs, _FLIP[node.op])):
        value = _constant(other)
        if value is None:
            continue
        if isinstance(side, Selector) and side.name == metric:
            return op, value, side, False
        if (
            isinstance(side, Binary)
            and side.op == "-"
            and isinstance(side.lhs, Selector)
            and side.lhs.name == metric
            and isinstance(side.rhs, Call)
            and side.rhs.func == "time"
        ):
            return op, value, side.lhs, True
    return None


def _constant(node: Node) -> float | None:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Binary) and node.op in _ARITH:
        lhs, rhs = _constant(node.lhs), _constant(node.rhs)
        if lhs is not None and rhs is not None:
            return _ARITH[node.op](lhs, rhs)
    return None
