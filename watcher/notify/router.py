"""Alertmanager's routing tree: which routes an alert takes, and its aggregation group.

Semantics of ``dispatch/route.go``: a route matches when its matchers do; its children are
tried in order, the first match stops the search unless it has ``continue: true``; when no
child matches, the route itself is the match. Group keys read ``{}/{matchers}:{groupLabels}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watcher.config import RouteConfig
from watcher.gotemplate.strconv import quote
from watcher.matchers import Matcher, matches_all

_OP_ORDER = {"=": 0, "!=": 1, "=~": 2, "!~": 3}


def _open_metrics_escape(value: str) -> str:
    """``labels.openMetricsEscape``: only backslash, newline and double quote are escaped."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _matchers_key(matchers: tuple[Matcher, ...]) -> str:
    """``labels.Matchers.String()`` of the sorted matchers: ``{a="1",b=~"x.*"}``."""
    ordered = sorted(matchers, key=lambda m: (m.name, m.value, _OP_ORDER[m.op]))
    return "{" + ",".join(f'{m.name}{m.op}"{_open_metrics_escape(m.value)}"' for m in ordered) + "}"


def label_set_string(labels: Mapping[str, str]) -> str:
    """Prometheus's ``LabelSet.String()``: ``{a="1", b="2"}``, sorted, values Go-quoted."""
    return "{" + ", ".join(f"{k}={quote(v)}" for k, v in sorted(labels.items())) + "}"


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """One node of the tree; ``path`` (child indexes) identifies it, ``key`` names it."""

    config: RouteConfig
    key: str
    path: tuple[int, ...]
    children: tuple[Route, ...]

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """Every route the alert ends up in (``Route.Match``)."""
        if not matches_all(self.config.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.children:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.config.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's values of ``group_by`` (all labels for ``['...']``)."""
        if self.config.group_by is None:
            return dict(sorted(labels.items()))
        return {name: labels[name] for name in sorted(self.config.group_by) if name in labels}

    def group_key(self, group_labels: Mapping[str, str]) -> str:
        """Alertmanager's group key, e.g. ``{}/{severity="info"}:{alertname="X"}``."""
        return f"{self.key}:{label_set_string(group_labels)}"

    def walk(self) -> list[Route]:
        """This route and every descendant, depth first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def build_routes(config: RouteConfig, parent: Route | None = None, index: int = 0) -> Route:
    """Turn the config tree into routes with their keys."""
    own = _matchers_key(config.matchers)
    key = own if parent is None else f"{parent.key}/{own}"
    path = () if parent is None else (*parent.path, index)
    node = Route(config, key, path, ())
    children = tuple(build_routes(c, node, i) for i, c in enumerate(config.routes))
    return Route(config, key, path, children)
