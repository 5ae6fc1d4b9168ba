"""``route:``, Alertmanager's routing tree: each node as written, then resolved against its parent.

A child inherits ``receiver``, ``group_by`` and the three timers from its parent when it does
not set them (https://prometheus.io/docs/alerting/latest/configuration/#route); the time
interval names are not inherited, as upstream. The root's defaults are ``RouteConfig``'s.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any

from watcher.config.model import RouteConfig
from watcher.config.scalars import Matchers, duration, duration_or_zero
from watcher.config.sections import SCHEMA, LegacyMatch, LegacyMatchRe
from watcher.validate import Hook, Invalid, Key, describe
from watcher.yamlpos import Located, Path, Problem


def _any_list(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        msg = f"expected a list, got {describe(value)}"
        raise Invalid(msg)
    return tuple(value)


@dataclass(frozen=True, kw_only=True)
class _RouteFile:
    """One node as written; None is "not set here" (inherited)."""

    receiver: str | None = None
    group_by: tuple[str, ...] | None = None
    # Alertmanager allows 0 here (send at once), not for group_interval or repeat_interval.
    group_wait: Annotated[float | None, Hook(duration_or_zero)] = None
    group_interval: Annotated[float | None, Hook(duration)] = None
    repeat_interval: Annotated[float | None, Hook(duration)] = None
    matchers: Matchers = ()
    match: LegacyMatch = ()
    match_re: LegacyMatchRe = ()
    continue_: Annotated[bool, Key("continue")] = False
    routes: Annotated[tuple[Any, ...], Hook(_any_list)] = ()  # each read on its own
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


class RouteReader:
    """Reads the tree at ``route``; ``problems`` gathers what is wrong in every node."""

    def __init__(self, doc: Located, receivers: Collection[str], intervals: Collection[str]):
        self.doc = doc
        self.receivers = receivers
        self.intervals = intervals
        self.problems: list[Problem] = []

    def read(
        self, raw: Any, path: Path = ("route",), parent: RouteConfig | None = None
    ) -> RouteConfig | None:
        """The node at ``path`` and its children, resolved; None when it is unusable."""
        f, problems = SCHEMA.read(self.doc, raw, _RouteFile, path)
        self.problems.extend(problems)
        if f is None:
            return None
        root = parent is None
        base = parent or RouteConfig(receiver="")
        receiver = f.receiver if f.receiver is not None else base.receiver
        if root and f.receiver is None:
            self.problem((*path, "receiver"), "the root route needs a receiver")
        elif f.receiver is not None and receiver not in self.receivers:
            self.problem((*path, "receiver"), f'undefined receiver "{receiver}"')
        matchers = f.matchers + f.match + f.match_re
        if root and matchers:
            self.problem((*path, "matchers"), "the root route must not have matchers")
        if root and f.continue_:
            self.problem((*path, "continue"), "the root route cannot continue")
        group_by: tuple[str, ...] | None = base.group_by if f.group_by is None else f.group_by
        if f.group_by is not None and "..." in f.group_by:
            if len(f.group_by) > 1:
                self.problem((*path, "group_by"), "'...' must be the only entry")
            group_by = None
        node = RouteConfig(
            receiver=receiver,
            group_by=group_by,
            group_wait=base.group_wait if f.group_wait is None else f.group_wait,
            group_interval=base.group_interval if f.group_interval is None else f.group_interval,
            repeat_interval=base.repeat_interval
            if f.repeat_interval is None
            else f.repeat_interval,
            matchers=matchers,
            continue_=f.continue_,
            mute_time_intervals=self._intervals(path, "mute", f.mute_time_intervals, root),
            active_time_intervals=self._intervals(path, "active", f.active_time_intervals, root),
        )
        children = tuple(
            child
            for i, item in enumerate(f.routes)
            if (child := self.read(item, (*path, "routes", i), node)) is not None
        )
        return RouteConfig(
            receiver=node.receiver,
            group_by=node.group_by,
            group_wait=node.group_wait,
            group_interval=node.group_interval,
            repeat_interval=node.repeat_interval,
            matchers=node.matchers,
            continue_=node.continue_,
            routes=children,
            mute_time_intervals=node.mute_time_intervals,
            active_time_intervals=node.active_time_intervals,
        )

    def problem(self, path: Path, message: str) -> None:
        """Record a problem of the tree."""
        self.problems.append(self.doc.problem(path, message))

    def _intervals(
        self, path: Path, what: str, names: tuple[str, ...], root: bool
    ) -> tuple[str, ...]:
        key = (*path, f"{what}_time_intervals")
        if root and names:
            self.problem(key, f"the root route must not have any {what} time intervals")
            return ()
        for name in names:
            if name not in self.intervals:
                self.problem(key, f'undefined time interval "{name}" used in route')
        return names
