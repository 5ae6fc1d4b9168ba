"""``ha:``: read the replica settings and refuse routes that would page once per replica.

Every replica sends the same alerts (same labels, no replica label) to every Alertmanager
peer, so a route that delivers anywhere else (Slack, a webhook) would page once per replica.
With ``share_rate_limit`` the replicas split each upstream key's request budget statically
(``watcher.ratelimit.Share``).

With ``ha`` set, every route's receiver must deliver through ``alertmanager_configs`` only
(the cluster de-duplicates). The check reads the built route tree (each node's receiver
resolved, inherited ones included) and every ``*_configs`` field of ``ReceiverConfig``, so it
names the receiver's ``*_configs`` line and covers integrations added later without a list to
keep up to date.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from watcher.config.model import HaConfig, ReceiverConfig, RouteConfig
from watcher.config.scalars import between
from watcher.config.sections import SCHEMA
from watcher.yamlpos import Located, Path, Problem

#: A StatefulSet pod's name ends in its ordinal: ``watcher-0``, ``watcher-1``.
_ORDINAL = re.compile(r"-(\d+)$")
#: Receiver integrations that cannot double-page: Alertmanager de-duplicates across its cluster;
#: the console only prints to each replica's own stdout.
ALLOWED_INTEGRATIONS = frozenset({"alertmanager_configs", "console_configs"})
MAX_REPLICAS = 16


@dataclass(frozen=True, kw_only=True)
class _HaFile:
    replicas: Annotated[int, between(1, MAX_REPLICAS)]
    replica: str
    index: Annotated[int | None, between(minimum=0)] = None
    share_rate_limit: bool = True


def read_ha(
    doc: Located,
    raw: Any,
    *,
    route: RouteConfig | None,
    receivers: Sequence[tuple[int, ReceiverConfig]],
    external_labels: Mapping[str, str],
) -> tuple[HaConfig | None, list[Problem]]:
    """The ``ha`` section ``raw`` (None when absent); with it, check that only Alertmanager
    pages: through the ``route`` tree to the ``receivers`` (each with its index in the file)
    and with ``global.external_labels`` that do not tell the replicas apart."""
    if raw is None:
        return None, []
    f, problems = SCHEMA.read(doc, raw, _HaFile, ("ha",))
    if f is None:
        return None, problems
    if not f.replica:
        problems.append(
            doc.problem(("ha", "replica"), "is empty (the chart sets it from the pod name)")
        )
    index = _index(doc, f, problems)
    problems.extend(_check_delivery(doc, route, receivers))
    problems.extend(_check_external_labels(doc, external_labels, f.replica))
    ha = HaConfig(
        replicas=f.replicas, replica=f.replica, index=index, share_rate_limit=f.share_rate_limit
    )
    return ha, problems


def _index(doc: Located, f: _HaFile, problems: list[Problem]) -> int:
    p: Path = ("ha", "index")
    if f.index is not None:
        index = f.index
    elif (m := _ORDINAL.search(f.replica)) is not None:
        index = int(m.group(1))
        p = ("ha", "replica")
    elif f.share_rate_limit and f.replicas > 1:
        problems.append(
            doc.problem(
                ("ha", "replica"),
                f'cannot tell which replica "{f.replica}" is: name it with an ordinal suffix like '
                '"watcher-0" (a StatefulSet pod name) or give ha.index',
            )
        )
        return 0
    else:
        return 0
    if index >= f.replicas:
        problems.append(
            doc.problem(p, f"replica index {index} is not below ha.replicas ({f.replicas})")
        )
    return index


def _check_delivery(
    doc: Located, route: RouteConfig | None, receivers: Sequence[tuple[int, ReceiverConfig]]
) -> list[Problem]:
    """Every receiver a route can reach must deliver through Alertmanager only."""
    reached = _route_receivers(route)
    out = []
    for i, receiver in receivers:
        if receiver.name not in reached:
            continue
        for f in dataclasses.fields(receiver):
            key = f.name  # a receiver's fields are named as its keys
            if (
                key.endswith("_configs")
                and key not in ALLOWED_INTEGRATIONS
                and getattr(receiver, key)
            ):
                out.append(
                    doc.problem(
                        ("receivers", i, key),
                        f'receiver "{receiver.name}" delivers directly ({key}); with ha every '
                        "replica would send it (one page per replica): route it to "
                        "alertmanager_configs listing every Alertmanager peer, and configure "
                        "this receiver there",
                    )
                )
    return out


def _route_receivers(route: RouteConfig | None) -> set[str]:
    """The receivers of ``route`` and of every route below it (inherited ones resolved)."""
    if route is None:
        return set()
    return {route.receiver}.union(*(_route_receivers(child) for child in route.routes))


def _check_external_labels(doc: Located, labels: Mapping[str, str], replica: str) -> list[Problem]:
    """A label carrying the replica makes each replica's alert distinct: one page per replica.
    Both are compared with ``${ENV}`` expanded (the chart sets ``${POD_NAME}`` in both)."""
    if not replica:
        return []
    return [
        doc.problem(
            ("global", "external_labels", name),
            "carries the replica name: every replica's alerts would differ and Alertmanager "
            "would page once per replica (the replica is on watcher_ha_replica_info instead)",
        )
        for name, value in labels.items()
        if value == replica
    ]
