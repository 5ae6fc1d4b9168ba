"""The hook ``watcher.config.load`` calls for the PagerDuty, Opsgenie and Teams receivers.

One object per config load: it reads the ``global:`` keys these receivers take once, then
each receiver's ``pagerduty_configs`` / ``opsgenie_configs`` / ``msteams_configs`` lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watcher.config.model import HttpConfig
from watcher.config.msteams import read_msteams
from watcher.config.opsgenie import GLOBAL_KEYS as OG_GLOBAL_KEYS
from watcher.config.opsgenie import read_opsgenie, read_opsgenie_global
from watcher.config.pagerduty import GLOBAL_KEYS as PD_GLOBAL_KEYS
from watcher.config.pagerduty import read_pagerduty, read_pagerduty_global
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.yamlpos import Path

#: ``global:`` keys read here.
GLOBAL_KEYS = PD_GLOBAL_KEYS | OG_GLOBAL_KEYS
#: receiver keys read here.
KINDS = ("pagerduty_configs", "opsgenie_configs", "msteams_configs")


class AmReceivers:
    """Reads these receivers' lists of one receiver at ``p`` into ``ReceiverConfig`` fields."""

    def __init__(self, r: Reader, templates: Templates, http: Callable[[Path], HttpConfig]) -> None:
        self._r = r
        self._templates = templates
        self._http = http
        self._pd_url = read_pagerduty_global(r)
        self._og = read_opsgenie_global(r)

    def read(self, p: Path) -> dict[str, Any]:
        """The ``ReceiverConfig`` keyword arguments for the receiver at ``p``."""
        r, t, h = self._r, self._templates, self._http
        return {
            "pagerduty_configs": r.each(
                (*p, "pagerduty_configs"), lambda q: read_pagerduty(r, q, t, h, self._pd_url)
            ),
            "opsgenie_configs": r.each(
                (*p, "opsgenie_configs"), lambda q: read_opsgenie(r, q, t, h, self._og)
            ),
            "msteams_configs": r.each((*p, "msteams_configs"), lambda q: read_msteams(r, q, t, h)),
        }
