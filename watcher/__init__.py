"""watcher: poll exchange and broker balances, export Prometheus metrics, page on-call."""

from __future__ import annotations

__version__ = "0.1.0"
#: The port the daemon listens on unless ``server.listen`` (or ``demo --listen``) says otherwise.
DEFAULT_PORT = 9746
