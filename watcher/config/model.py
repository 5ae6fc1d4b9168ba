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

from watcher.config.scalars import (
    ByteSize,
    Duration,
    DurationOrZero,
    HttpUrl,
    Labels,
    NonNegative,
    Secret,
    SecretUrl,
    SourceLabels,
    Template,
    between,
    choice,
    headers,
    matching,
    template,
    unique_choices,
)
from watcher.ha import HaConfig
from watcher.matchers import Matcher
from watcher.timeinterval import TimeInterval
from watcher.validate import Hook, Key

__all__ = ["Secret"]  # re-exported: where the rest of watcher imports it from

COUPON_STATUSES = ("pending", "unused", "used", "expired", "failed")
SIGNERS = ("futures", "futures_sorted")
DEFAULT_BODY_SIZE_LIMIT = 32 * 1024 * 1024  # 32 MiB
_HTTP_CONFIG = Key("http_config")


@dataclass(frozen=True, kw_only=True)
class GlobalConfig:
    """``global:``."""

    evaluation_interval: Duration = 15.0
    external_labels: Labels = field(default_factory=dict)
    external_url: str = ""
    #: how long an alert posted without endsAt fires after its last post (Alertmanager's)
    resolve_timeout: Duration = 300.0


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    """``server.api``: silences ``read-write``, ``read-only`` or ``off``; who may change things."""

    silences: Annotated[str, choice("read-write", "read-only", "off")] = "read-write"
    writers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """``server:``; ``web_config_file`` is exporter-toolkit's format (``watcher.webconfig``)."""

    host: str = "0.0.0.0"
    port: int = 9746
    web_config_file: str = ""
    api: ApiConfig = field(default_factory=ApiConfig)


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """``storage:``; ``path`` is an SQLite file (``:memory:`` keeps nothing across restarts)."""

    path: str = "/var/lib/watcher/state.db"
    # Undelivered notifications kept at most (Prometheus's notification queue default); when
    # full, the oldest resolved ones are dropped first, a firing one never.
    notification_queue_capacity: Annotated[int, between(minimum=1)] = 10_000
    # The query API's window into the past (seconds; 0: only what the rules read); every
    # metric's samples are kept this long, longer where a rule's range + offset needs it.
    retention: DurationOrZero = 24 * 3600.0
    # Samples held in memory at most; older ones are read back from storage.path as needed.
    max_samples_in_memory: Annotated[int, between(minimum=1000)] = 5_000_000


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
class HttpConfig:
    """``http_config:`` of a receiver: ``authorization`` (bearer) or ``basic_auth``."""

    bearer_token: Secret | None = None
    basic_auth: tuple[str, Secret] | None = None
    timeout: DurationOrZero = 0.0  # per request; 0 = none (the integration's is the same)


@dataclass(frozen=True, kw_only=True)
class SlackField:
    """``slack_configs[].fields[]``: templated ``title``/``value``; ``short`` or the default."""

    title: Template = ""  # both needed: the loader says so in one message
    value: Template = ""
    short: bool | None = None


@dataclass(frozen=True, kw_only=True)
class SlackConfirm:
    """``actions[].confirm``."""

    text: Template = ""
    title: Template = ""
    ok_text: Template = ""
    dismiss_text: Template = ""


@dataclass(frozen=True, kw_only=True)
class SlackAction:
    """``slack_configs[].actions[]``: a button (``type``, ``text``, ``url``...), templated."""

    type: Template = ""
    text: Template = ""
    url: Template = ""
    style: Template = ""
    name: Template = ""
    value: Template = ""
    confirm: SlackConfirm | None = None


# Alertmanager's default Slack texts, each the named template of its default.tmpl.
_SLACK = {
    name: '{{ template "slack.default.' + name + '" . }}'
    for name in (
        "username",
        "iconemoji",
        "iconurl",
        "title",
        "titlelink",
        "pretext",
        "fallback",
        "callbackid",
        "footer",
    )
}


@dataclass(frozen=True, kw_only=True)
class SlackConfig:
    """``slack_configs[]``: an incoming webhook; every text key is a Go template.

    Defaults are Alertmanager's (``config/notifiers.go`` ``DefaultSlackConfig``), except
    ``text``: None is the watcher's alert list (summary, value, runbook, labels), where
    Alertmanager's ``slack.default.text`` is empty.
    """

    api_url: SecretUrl
    channel: Annotated[str | None, Hook(template)] = None
    username: Template = _SLACK["username"]
    icon_emoji: Template = _SLACK["iconemoji"]
    icon_url: Template = _SLACK["iconurl"]
    title: Template = _SLACK["title"]
    title_link: Template = _SLACK["titlelink"]
    pretext: Template = _SLACK["pretext"]
    text: Annotated[str | None, Hook(template)] = None
    fallback: Template = _SLACK["fallback"]
    callback_id: Template = _SLACK["callbackid"]
    footer: Template = _SLACK["footer"]
    color: Template = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    image_url: Template = ""
    thumb_url: Template = ""
    link_names: bool = False
    mrkdwn_in: tuple[str, ...] = ()
    short_fields: bool = False
    fields: tuple[SlackField, ...] = ()
    actions: tuple[SlackAction, ...] = ()
    send_resolved: bool = False
    timeout: DurationOrZero = 0.0  # per request, as Alertmanager's; 0 = none but dispatch's
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    """``webhook_configs[]``: Alertmanager's webhook payload, version 4."""

    url: SecretUrl
    send_resolved: bool = True
    max_alerts: NonNegative = 0
    timeout: DurationOrZero = 0.0  # per request, as Alertmanager's; 0 = none but dispatch's
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class AlertmanagerConfig:
    """``alertmanager_configs[]``: POST /api/v2/alerts to an Alertmanager."""

    url: HttpUrl
    timeout: Duration = 10.0  # per request, Prometheus's alertmanager_config default
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class ConsoleConfig:
    """``console_configs[]``: print notifications to standard output (the demo's receiver)."""

    send_resolved: bool = True


PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"  # Alertmanager's global.pagerduty_url
PAGERDUTY_DETAILS = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


@dataclass(frozen=True, kw_only=True)
class PagerdutyImage:
    """``images[]``: templated ``src`` (an image without one is left out), ``alt``, ``href``."""

    src: str = ""
    alt: str = ""
    href: str = ""


@dataclass(frozen=True, kw_only=True)
class PagerdutyLink:
    """``links[]``: templated ``href`` (a link without one is left out) and ``text``."""

    href: str = ""
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class PagerdutyConfig:
    """One ``pagerduty_configs[]`` entry; every text key is a Go template.

    Exactly one of ``routing_key`` (Events API v2) and ``service_key`` (v1) is used; when
    both are given Alertmanager uses v1, and so does the watcher.
    """

    routing_key: Secret | None = None
    service_key: Secret | None = None
    url: str = PAGERDUTY_URL
    url_set: bool = False  # ``url`` given on the entry itself (not the global default)
    client: str = '{{ template "pagerduty.default.client" . }}'
    client_url: str = '{{ template "pagerduty.default.clientURL" . }}'
    description: str = '{{ template "pagerduty.default.description" .}}'
    details: Mapping[str, str] = field(default_factory=lambda: dict(PAGERDUTY_DETAILS))
    images: tuple[PagerdutyImage, ...] = ()
    links: tuple[PagerdutyLink, ...] = ()
    source: str = ""  # "" = the client template, as Alertmanager fills it in
    severity: str = ""  # "" = "error", as Alertmanager fills it in when sending
    class_: str = ""
    component: str = ""
    group: str = ""
    send_resolved: bool = True
    http: HttpConfig = field(default_factory=HttpConfig)

    @property
    def v1(self) -> bool:
        """Whether events go to the v1 API (a ``service_key``)."""
        return self.service_key is not None


OPSGENIE_API_URL = "https://api.opsgenie.com/"  # Alertmanager's global.opsgenie_api_url


@dataclass(frozen=True, kw_only=True)
class OpsgenieResponder:
    """``responders[]``: one of ``id``, ``name``, ``username``, and a ``type``; all templated."""

    id: str = ""
    name: str = ""
    username: str = ""
    type: str = ""


@dataclass(frozen=True, kw_only=True)
class OpsgenieConfig:
    """One ``opsgenie_configs[]`` entry; every text key is a Go template (Alertmanager 0.25's
    ``DefaultOpsGenieConfig``). ``api_url`` always ends in ``/``."""

    api_key: Secret
    api_url: str = OPSGENIE_API_URL
    message: str = '{{ template "opsgenie.default.message" . }}'
    description: str = '{{ template "opsgenie.default.description" . }}'
    source: str = '{{ template "opsgenie.default.source" . }}'
    details: Mapping[str, str] = field(default_factory=dict)
    entity: str = ""
    responders: tuple[OpsgenieResponder, ...] = ()
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = ""
    update_alerts: bool = False
    send_resolved: bool = True
    http: HttpConfig = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class TlsConfig:
    """Prometheus's ``tls_config`` (of ``email_configs``): files are paths, read when a connection is made."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""


@dataclass(frozen=True, kw_only=True)
class EmailConfig:
    """One ``email_configs[]`` entry with the global defaults applied."""

    to: str
    from_: str
    smarthost: tuple[str, int]
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: Secret | None = None
    auth_secret: Secret | None = None
    auth_identity: str = ""
    #: canonical header name -> template; Subject, To and From always present
    headers: Mapping[str, str] = field(default_factory=dict)
    html: str = '{{ template "email.default.html" . }}'
    text: str = ""
    require_tls: bool = True
    tls: TlsConfig = field(default_factory=TlsConfig)
    send_resolved: bool = False


@dataclass(frozen=True, kw_only=True)
class TelegramConfig:
    """One ``telegram_configs[]`` entry with the global default applied."""

    bot_token: Secret
    chat_id: int
    api_url: str = "https://api.telegram.org"
    message: str = '{{ template "telegram.default.message" . }}'
    disable_notifications: bool = False
    parse_mode: str = "HTML"
    send_resolved: bool = True
    http: HttpConfig = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class MsteamsConfig:
    """One ``msteams_configs[]`` entry (Alertmanager 0.27's keys and defaults; templated)."""

    webhook_url: Secret
    title: str = '{{ template "msteams.default.title" . }}'
    summary: str = '{{ template "msteams.default.summary" . }}'
    text: str = '{{ template "msteams.default.text" . }}'
    send_resolved: bool = True
    http: HttpConfig = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class ReceiverConfig:
    """``receivers[]``."""

    name: str
    slack_configs: tuple[SlackConfig, ...] = ()
    webhook_configs: tuple[WebhookConfig, ...] = ()
    alertmanager_configs: tuple[AlertmanagerConfig, ...] = ()
    console_configs: tuple[ConsoleConfig, ...] = ()
    email_configs: tuple[EmailConfig, ...] = ()
    telegram_configs: tuple[TelegramConfig, ...] = ()
    pagerduty_configs: tuple[PagerdutyConfig, ...] = ()
    opsgenie_configs: tuple[OpsgenieConfig, ...] = ()
    msteams_configs: tuple[MsteamsConfig, ...] = ()


@dataclass(frozen=True, kw_only=True)
class InhibitRule:
    """``inhibit_rules[]``: alerts matching ``target`` are muted while one matching ``source``
    fires with the same values of ``equal``."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


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
    ha: HaConfig | None = None  # watcher.ha: replicas behind an Alertmanager cluster

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
