"""Every exception watcher raises on purpose, in one place.

Messages never contain secrets: API keys, secret keys, webhook URLs and tokens are
``watcher.config.Secret`` values whose ``str`` and ``repr`` are redacted.
"""

from __future__ import annotations

from collections.abc import Sequence


class WatcherError(Exception):
    """Base of every error watcher raises on purpose."""


class ConfigError(WatcherError):
    """The config file or a rule file is invalid; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SourceError(WatcherError):
    """A poll of an upstream API failed; ``reason`` is the ``watcher_source_errors_total`` label.

    Reasons: ``timeout``, ``connection``, ``http``, ``rate_limited``, ``auth``, ``api_error``,
    ``malformed``, ``invalid_row``, ``too_large`` (a body over the source's ``body_size_limit``).
    """

    def __init__(self, reason: str, message: str, *, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(message)


class TransientSourceError(SourceError):
    """A failure worth retrying within the same poll (timeouts, 5xx, connection resets)."""


class RateLimitedError(SourceError):
    """Upstream said we were too fast (CoinW 29001, HTTP 429); back off longer than usual."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__("rate_limited", message, retry_after=retry_after)


class RuleError(WatcherError):
    """A rule expression or template cannot be loaded or evaluated."""


class TestFileError(WatcherError):
    """A promtool rule unit-test file is invalid; ``watcher rules test`` prints the message and
    fails the file, as ``promtool test rules`` does."""

    __test__ = False  # a name pytest would otherwise collect


class NotifyError(WatcherError):
    """A notification could not be delivered; ``retry_after`` is upstream's hint, if any."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        self.retry_after = retry_after
        self.permanent = permanent
        super().__init__(message)


class SilenceError(WatcherError):
    """A silence cannot be created or changed (bad matchers, times in the past ...)."""


class SilenceNotFoundError(SilenceError):
    """No silence has the given id."""


class SilenceStorageError(SilenceError):
    """A silence could not be written (a full or read-only disk): nothing was changed."""


class StateError(WatcherError):
    """The state file cannot be used: locked by another daemon, unreadable, or from the future."""


class StateLockedError(StateError):
    """Another watcher process holds the state file: two daemons on one file would double-page."""


class PushFrameError(WatcherError):
    """A CoinW WebSocket frame that cannot be used; ``kind`` is its
    ``watcher_source_push_messages_total`` label (``not_json``, ``bad_shape``,
    ``unknown_type``, ``invalid_coupon``). The frame is counted and skipped."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)
