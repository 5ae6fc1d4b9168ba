"""The config file as frozen dataclasses: nothing past the loader sees raw YAML.

Each field's type says what the file holds there (``Duration``, ``HttpUrl``, a ``choice``...,
hooks of ``watcher.config.scalars``) and its default is the one default of that key: the
loader (``watcher.config.load``) builds these classes with them and writes no default itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from watcher import DEFAULT_PORT
from watcher.config import amhooks as am
from watcher.config.receivers import (
    OPSGENIE_API_URL,
    PAGERDUTY_DETAILS,
    PAGERDUTY_URL,
    TELEGRAM_API_URL,
    AlertmanagerConfig,
    ConsoleConfig,
    EmailConfig,
    HttpConfig,
    MsteamsConfig,
    OpsgenieConfig,
    OpsgenieResponder,
    PagerdutyConfig,
    PagerdutyImage,
    PagerdutyLink,
    ReceiverConfig,
    SlackAction,
    SlackConfig,
    SlackConfirm,
    SlackField,
    TelegramConfig,
    TlsConfig,
    Url,
    WebhookConfig,
)
from watcher.config.scalars import (
    ByteSize,
    Duration,
    DurationOrZero,
    HttpUrl,
    Labels,
    NonNegative,
    Secret,
    SourceLabels,
    between,
    choice,
    headers,
    matching,
    unique_choices,
)
from watcher.matchers import Matcher
from watcher.timeinterval import TimeInterval
from watcher.validate import Hook

# re-exported: where the rest of watcher imports them from
__all__ = [
    "OPSGENIE_API_URL",
    "PAGERDUTY_DETAILS",
    "PAGERDUTY_URL",
    "TELEGRAM_API_URL",
    "AlertmanagerConfig",
    "ConsoleConfig",
    "EmailConfig",
    "HttpConfig",
    "MsteamsConfig",
    "OpsgenieConfig",
    "OpsgenieResponder",
    "PagerdutyConfig",
    "PagerdutyImage",
    "PagerdutyLink",
    "ReceiverConfig",
    "Secret",
    "SlackAction",
    "SlackConfig",
    "SlackConfirm",
    "SlackField",
    "TelegramConfig",
    "TlsConfig",
    "WebhookConfig",
]

COUPON_STATUSES = ("pending", "unused", "used", "expired", "failed")
SIGNERS = ("futures", "futures_sorted")
DEFAULT_BODY_SIZE_LIMIT = 32 * 1024 * 1024  # 32 MiB
#: ``storage.notification_queue_capacity``: Prometheus's notification queue default
#: (``--alertmanager.notification-queue-capacity``).
NOTIFICATION_QUEUE_CAPACITY = 10_000
#: ``storage.max_samples_in_memory``: about 95 MB at the ~19 bytes a sample takes in memory
#: (bench/RESULTS.md): 10k series polled every minute keep their last 8 h in memory, older
#: samples are read back from ``storage.path``.
MAX_SAMPLES_IN_MEMORY = 5_000_000


@dataclass(frozen=True, kw_only=True)
class GlobalConfig:
    """``global:``."""

    # 15s as in Prometheus's example prometheus.yml (its built-in default is 1m); the rules
    # also run after every poll. RuleManager has no default of its own: it is given this.
    evaluation_interval: Duration = 15.0
    external_labels: Labels = field(default_factory=dict)
    external_url: str = ""
    #: how long an alert posted without endsAt fires after its last post (Alertmanager's)
    resolve_timeout: Duration = 300.0
    # What receiver entries take when they give none (Alertmanager's global keys and
    # defaults, https://prometheus.io/docs/alerting/latest/configuration/#configuration-file).
    http_config: HttpConfig | None = None
    slack_api_url: Secret | None = None
    pagerduty_url: Url = PAGERDUTY_URL
    opsgenie_api_url: Url = OPSGENIE_API_URL
    opsgenie_api_key: Secret | None = None
    telegram_api_url: Annotated[str, Hook(am.api_url)] = TELEGRAM_API_URL
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: str = ""  # host:port, checked where an entry takes it
    smtp_auth_username: str = ""
    smtp_auth_password: Secret | None = None
    smtp_auth_secret: Annotated[am.InlineSecret | None, Hook(am.inline_secret)] = None
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    """``server.api``: silences ``read-write``, ``read-only`` or ``off``; who may change things."""

    silences: Annotated[str, choice("read-write", "read-only", "off")] = "read-write"
    writers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """``server:``; ``web_config_file`` is exporter-toolkit's format (``watcher.webconfig``)."""

    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    web_config_file: str = ""
    api: ApiConfig = field(default_factory=ApiConfig)


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """``storage:``; ``path`` is an SQLite file (``:memory:`` keeps nothing across restarts)."""

    path: str = "/var/lib/watcher/state.db"
    # Undelivered notifications kept at most; when full, the oldest resolved ones are dropped
    # first, a firing one never.
    notification_queue_capacity: Annotated[int, between(minimum=1)] = NOTIFICATION_QUEUE_CAPACITY
    # The query API's window into the past (seconds; 0: only what the rules read); every
    # metric's samples are kept this long, longer where a rule's range + offset needs it.
    retention: DurationOrZero = 24 * 3600.0
    # Samples held in memory at most; older ones are read back from storage.path as needed.
    max_samples_in_memory: Annotated[int, between(minimum=1000)] = MAX_SAMPLES_IN_MEMORY


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """Keys every source takes."""

    name: Annotated[
        str,
        matching(
            r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", 'expected letters, digits, "_", "." or "-", got "{}"'
        ),
    ]
    type: str
    interval: Duration = 60.0
    timeout: Duration = 10.0
    stale_after: Duration = 300.0  # when not given: 5 x interval
    labels: SourceLabels = field(default_factory=dict)
    #: bytes of one decompressed response body past which a request fails with ``too_large``
    body_size_limit: ByteSize = DEFAULT_BODY_SIZE_LIMIT


PUSH_DEFAULT_URL = "wss://ws.futurescw.com/perpum"
#: The login frame CoinW.Net sends; string values "<api_key>", "<secret_key>" and
#: "<passphrase>" are replaced by the credentials (whole values, never spliced into text).
PUSH_DEFAULT_LOGIN = json.dumps(
    {"event": "login", "params": {"api_key": "<api_key>", "passphrase": "<secret_key>"}}
)
PUSH_DEFAULT_MAX_FRAME = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class PushConfig:
    """``sources[].push`` of a Mega Coupon source (off unless ``enabled``; read in ``push.py``)."""

    enabled: bool = False
    url: Annotated[str, matching(r"^wss?://", 'expected a ws:// or wss:// URL, got "{}"')] = (
        PUSH_DEFAULT_URL
    )
    ping_interval: Duration = 5.0
    pong_timeout: Duration = 5.0  # at most ping_interval (watcher.config.push)
    #: the login frame as JSON, with ``PLACEHOLDERS`` as string values (read in ``push.py``)
    login: str = PUSH_DEFAULT_LOGIN
    #: the value of ``<passphrase>`` (None: the source's secret key)
    passphrase: Secret | None = None
    max_frame_size: ByteSize = PUSH_DEFAULT_MAX_FRAME
    min_backoff: Duration = 1.0
    max_backoff: Duration = 60.0  # at least min_backoff
    #: bad frames in a row on one connection before it is dropped and made again
    bad_frame_limit: Annotated[int, between(1, 1000)] = 5


@dataclass(frozen=True, kw_only=True)
class CoinwCouponConfig(SourceConfig):
    """``type: coinw_mega_coupon``."""

    base_url: HttpUrl = "https://api.coinw.com"
    api_key: Secret
    secret_key: Secret
    statuses: Annotated[tuple[str, ...], unique_choices(COUPON_STATUSES, "status")] = (
        "pending",
        "unused",
    )
    push: PushConfig = field(default_factory=PushConfig)


@dataclass(frozen=True, kw_only=True)
class CoinwInviteeConfig(SourceConfig):
    """``type: coinw_invitee_volume``."""

    base_url: HttpUrl = "https://api.coinw.com"
    api_key: Secret
    secret_key: Secret
    lookback_days: Annotated[int, between(1, 365)] = 30
    top_invitees: Annotated[int, between(0, 10_000)] = 50
    page_size: Annotated[int, between(1, 1000)] = 1000
    signer: Annotated[str, choice(*SIGNERS)] = "futures"


@dataclass(frozen=True, kw_only=True)
class TradebossAccount:
    """One account of a ``tradeboss_balance`` source."""

    third_server_code: str
    user_name: str
    currency: Annotated[
        str, matching(r"^[A-Z]{3}$", 'expected an ISO 4217 code like HKD, got "{}"')
    ]


@dataclass(frozen=True, kw_only=True)
class TradebossConfig(SourceConfig):
    """``type: tradeboss_balance``."""

    base_url: HttpUrl
    company_id: NonNegative
    headers: Annotated[Mapping[str, Secret], Hook(headers)] = field(default_factory=dict)
    accounts: tuple[TradebossAccount, ...] = ()
    concurrency: Annotated[int, between(1, 256)] = 8


@dataclass(frozen=True, kw_only=True)
class RouteConfig:
    """One node of the routing tree, with inherited values already resolved.

    ``group_by`` None means group by all labels (``['...']``); an empty tuple puts every alert
    of the route in one group (Alertmanager's default).
    """

    receiver: str
    group_by: tuple[str, ...] | None = ()
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[RouteConfig, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()  # not inherited, as in Alertmanager
    active_time_intervals: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class InhibitRule:
    """``inhibit_rules[]``: alerts matching ``target`` are muted while one matching ``source``
    fires with the same values of ``equal``."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HaConfig:
    """``ha:``: this process is replica ``replica`` (number ``index``) of ``replicas``.

    Every replica polls, evaluates and sends the same alerts to every peer of an Alertmanager
    cluster, whose gossip de-duplicates the notifications
    (https://prometheus.io/docs/alerting/latest/alertmanager/#high-availability);
    ``watcher.config.ha`` reads it and refuses routes that would page once per replica.
    """

    replicas: int
    replica: str
    index: int
    share_rate_limit: bool = True

    @property
    def shares(self) -> bool:
        """Whether request spacing is split between the replicas (``watcher.ratelimit.Share``)."""
        return self.share_rate_limit and self.replicas > 1


@dataclass(frozen=True, kw_only=True)
class Config:
    """A whole, valid config file."""

    file: Path
    global_: GlobalConfig = field(default_factory=GlobalConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    sources: tuple[SourceConfig, ...] = ()
    rule_files: tuple[str, ...] = ()
    route: RouteConfig | None = None
    receivers: tuple[ReceiverConfig, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()
    templates: tuple[str, ...] = ()  # Alertmanager's notification template file globs
    time_intervals: Mapping[str, tuple[TimeInterval, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    ha: HaConfig | None = None  # replicas behind an Alertmanager cluster

    def rule_paths(self) -> list[Path]:
        """Every rule file the ``rule_files`` globs match, relative to the config's folder."""
        return [path for pattern in self.rule_files for path in self.rule_glob(pattern)]

    def rule_glob(self, pattern: str) -> list[Path]:
        """The files one ``rule_files`` glob matches (absolute, or relative to the config)."""
        p = Path(pattern)
        if p.is_absolute():
            matches = Path(p.anchor).glob(str(p.relative_to(p.anchor)))
        else:
            matches = self.file.parent.glob(pattern)
        return sorted(m for m in matches if m.is_file())

    def receiver(self, name: str) -> ReceiverConfig | None:
        """The receiver called ``name``."""
        return next((r for r in self.receivers if r.name == name), None)
