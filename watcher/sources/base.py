"""What a source is: something that polls one upstream and returns groups of series."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from watcher.config.model import SourceConfig
from watcher.errors import SourceError
from watcher.series import Series


@dataclass
class PollResult:
    """One poll's outcome.

    ``groups`` maps a group key (a coupon status, an account) to that group's complete series;
    each replaces the stored group whole. A part that failed appears in ``errors`` and has no
    group, so its previous series stay until ``stale_after``.
    """

    groups: dict[str, list[Series]] = field(default_factory=dict)
    errors: list[SourceError] = field(default_factory=list)
    #: failures that a retry within the poll recovered from: counted, but the source stays up
    retried: list[SourceError] = field(default_factory=list)
    #: rows skipped because they were invalid; counted as ``invalid_row`` errors
    skipped_rows: int = 0

    def note_retry(self, exc: BaseException) -> None:
        """Record an error that is about to be retried (``retry_async``'s ``on_retry``)."""
        if isinstance(exc, SourceError):
            self.retried.append(exc)


class Source(Protocol):
    """One configured upstream."""

    @property
    def config(self) -> SourceConfig:
        """The source's config (name, interval, timeout, stale_after, labels)."""
        ...

    def metric_help(self) -> Mapping[str, str]:
        """HELP text for every metric name the source exports."""
        ...

    async def poll(self) -> PollResult:
        """Read upstream once. Raise ``SourceError`` only when nothing at all could be read."""
        ...


def with_source_labels(
    config: SourceConfig, name: str, labels: Mapping[str, str], value: float
) -> Series:
    """A series carrying ``source`` and the source's configured labels (item labels win)."""
    merged = dict(config.labels)
    merged.update(labels)
    merged["source"] = config.name
    return Series(name, merged, value)
