"""What a source is: something that polls one upstream and returns groups of series."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Protocol, TypeVar

import aiohttp

from watcher.clock import Clock
from watcher.config.model import SourceConfig
from watcher.errors import RateLimitedError, SourceError, TransientSourceError
from watcher.retry import RetryPolicy
from watcher.series import Series
from watcher.sources.upstream import UpstreamClient

ConfigT = TypeVar("ConfigT", bound=SourceConfig)


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
        """Record an error that is about to be retried (``RetryPolicy``'s ``on_retry``)."""
        if isinstance(exc, SourceError):
            self.retried.append(exc)

    @property
    def rate_limited(self) -> bool:
        """Whether upstream refused a request of this poll for speed."""
        return any(isinstance(exc, RateLimitedError) for exc in self.errors)


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


class UpstreamSource(Generic[ConfigT]):
    """What every built-in source shares: its config, its metrics' HELP texts, one
    ``UpstreamClient`` and one retry policy (3 attempts within 3 timeouts, transient errors)."""

    #: HELP text of every metric name the source exports
    HELP: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        config: ConfigT,
        session: aiohttp.ClientSession,
        clock: Clock,
        *,
        path: str,
        secrets: Iterable[str],
    ) -> None:
        self._config = config
        self._clock = clock
        self._http = UpstreamClient(
            session,
            timeout=config.timeout,
            body_size_limit=config.body_size_limit,
            secrets=secrets,
        )
        self._retry = RetryPolicy(
            on=(TransientSourceError,),
            attempts=3,
            max_delay=config.timeout * 3,
            what=f"{config.name} {path}",
            sleep=clock.sleep,
        )

    @property
    def config(self) -> ConfigT:
        """This source's config."""
        return self._config

    def metric_help(self) -> Mapping[str, str]:
        """HELP texts of this source's metrics."""
        return self.HELP

    def clean(self, text: str) -> str:
        """Upstream ``text`` fit for a log line: this source's secrets redacted, one line."""
        return self._http.clean(text)
