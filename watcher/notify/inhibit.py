"""``inhibit_rules``: an alert matching a rule's target is muted while another alert matching
its source fires with equal values of the ``equal`` labels.

As ``inhibit/inhibit.go``: only firing source alerts count, and when an alert matches both
sides of a rule, source alerts that also match both sides do not inhibit it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.alerts import Alert
from watcher.config import InhibitRule
from watcher.matchers import matches_all


class Inhibitor:
    """Answers "which firing alerts inhibit this one?"."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self._rules = tuple(rules)

    def inhibited_by(self, labels: Mapping[str, str], firing: Sequence[Alert]) -> list[str]:
        """Fingerprints of the firing alerts that inhibit an alert with ``labels``."""
        found: set[str] = set()
        for rule in self._rules:
            if not matches_all(rule.target_matchers, labels):
                continue
            target_is_source = matches_all(rule.source_matchers, labels)
            for src in firing:
                if not matches_all(rule.source_matchers, src.labels):
                    continue
                if any(src.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                    continue
                # excludeTwoSidedMatch: when the alert is on both sides, so are its peers.
                if target_is_source and matches_all(rule.target_matchers, src.labels):
                    continue
                found.add(src.fingerprint)
        return sorted(found)
