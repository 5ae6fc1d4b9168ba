"""``ha:``: read the replica settings and refuse routes that would page once per replica.

With ``ha`` set, every route's receiver must deliver through ``alertmanager_configs`` only
(the cluster de-duplicates); the check walks the raw route tree, so it names the receiver's
``*_configs`` line and covers integrations added later without a list to keep up to date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from watcher.config.reader import Reader
from watcher.ha import HaConfig
from watcher.yamlpos import Path

_KEYS = {"replicas", "replica", "index", "share_rate_limit"}
#: A StatefulSet pod's name ends in its ordinal: ``watcher-0``, ``watcher-1``.
_ORDINAL = re.compile(r"-(\d+)$")
#: Receiver integrations that cannot double-page: Alertmanager de-duplicates across its cluster;
#: the console only prints to each replica's own stdout.
ALLOWED_INTEGRATIONS = frozenset({"alertmanager_configs", "console_configs"})
MAX_REPLICAS = 16


def read_ha(r: Reader) -> HaConfig | None:
    """The ``ha`` section (None when absent); with it, check that only Alertmanager pages."""
    p: Path = ("ha",)
    if not r.mapping(p, _KEYS):
        return None
    replicas = r.integer((*p, "replicas"), minimum=1, maximum=MAX_REPLICAS)
    replica = str(r.string((*p, "replica")))
    share = r.boolean((*p, "share_rate_limit"), True)
    if r.get((*p, "replica")) is not None and not replica:
        r.problem((*p, "replica"), "is empty (the chart sets it from the pod name)")
    index = _index(r, replica, replicas, share)
    _check_delivery(r)
    _check_external_labels(r, replica)
    return HaConfig(replicas=replicas, replica=replica, index=index, share_rate_limit=share)


def _index(r: Reader, replica: str, replicas: int, share: bool) -> int:
    p: Path = ("ha", "index")
    if r.get(p) is not None:
        index = r.integer(p, minimum=0)
    elif (m := _ORDINAL.search(replica)) is not None:
        index = int(m.group(1))
        p = ("ha", "replica")
    elif share and replicas > 1:
        r.problem(
            ("ha", "replica"),
            f'cannot tell which replica "{replica}" is: name it with an ordinal suffix like '
            '"watcher-0" (a StatefulSet pod name) or give ha.index',
        )
        return 0
    else:
        return 0
    if index >= replicas:
        r.problem(p, f"replica index {index} is not below ha.replicas ({replicas})")
    return index


def _check_delivery(r: Reader) -> None:
    """Every receiver a route can reach must deliver through Alertmanager only."""
    reached = _route_receivers(r, ("route",), None)
    for i, raw in enumerate(r.seq(("receivers",))):
        if not isinstance(raw, Mapping) or raw.get("name") not in reached:
            continue
        for key, value in raw.items():
            if str(key).endswith("_configs") and key not in ALLOWED_INTEGRATIONS and value:
                r.problem(
                    ("receivers", i, str(key)),
                    f'receiver "{raw["name"]}" delivers directly ({key}); with ha every replica '
                    "would send it (one page per replica): route it to alertmanager_configs "
                    "listing every Alertmanager peer, and configure this receiver there",
                )


def _route_receivers(r: Reader, p: Path, inherited: str | None) -> set[str]:
    """The receivers of the route at ``p`` and of every route below it (children inherit)."""
    node: Any = r.get(p)
    if not isinstance(node, Mapping):
        return set()
    receiver = node.get("receiver", inherited)
    receiver = receiver if isinstance(receiver, str) else None
    children = node.get("routes")
    out = {receiver} if receiver is not None else set()
    for i in range(len(children) if isinstance(children, list) else 0):
        out |= _route_receivers(r, (*p, "routes", i), receiver)
    return out


def _check_external_labels(r: Reader, replica: str) -> None:
    """A label carrying the replica makes each replica's alert distinct: one page per replica."""
    labels = r.get(("global", "external_labels"))
    if not replica or not isinstance(labels, Mapping):
        return
    spellings = {replica, str(r.get(("ha", "replica")))}  # expanded, and as written (${POD_NAME})
    for name, value in labels.items():
        if str(value) in spellings:
            r.problem(
                ("global", "external_labels", str(name)),
                "carries the replica name: every replica's alerts would differ and Alertmanager "
                "would page once per replica (the replica is on watcher_ha_replica_info instead)",
            )
