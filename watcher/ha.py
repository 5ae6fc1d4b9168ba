"""High availability on Alertmanager's own clustering: the top-level ``ha`` config.

Every replica polls, evaluates and sends the same alerts (same labels, no replica label) to
every peer of an Alertmanager cluster, whose gossip de-duplicates the notifications
(https://prometheus.io/docs/alerting/latest/alertmanager/#high-availability). So a route that
delivers anywhere else (a Slack or webhook receiver) would page once per replica: with ``ha``
set such a config is refused, naming the receiver. With ``share_rate_limit`` the replicas
split each upstream key's request budget statically (``watcher.ratelimit.Share``).

``watcher.config.ha`` reads ``ha:`` from the located YAML, so every problem keeps its file,
line and key path.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class HaConfig:
    """``ha:``: this process is replica ``replica`` (number ``index``) of ``replicas``."""

    replicas: int
    replica: str
    index: int
    share_rate_limit: bool = True

    @property
    def shares(self) -> bool:
        """Whether request spacing is split between the replicas."""
        return self.share_rate_limit and self.replicas > 1
