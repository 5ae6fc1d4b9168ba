"""The receivers of the config file as frozen dataclasses: Alertmanager's keys and defaults.

Each field's type says what the file holds there (a ``Template`` parsed at load, a secret that
may come from ``<key>_file``, a URL...: hooks of ``watcher.config.scalars`` and
``watcher.config.amhooks``) and its default is the one default of that key. What a key takes
from ``global:`` when an entry gives none, and the checks spanning several keys, are
``before``/``after`` checks of the integration's module (``watcher.config.pagerduty``...).
``watcher.config.model`` re-exports every class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from watcher.config import amhooks as am
from watcher.config.scalars import (
    Duration,
    DurationOrZero,
    HttpUrl,
    NonNegative,
    Secret,
    SecretUrl,
    Template,
    template,
)
from watcher.validate import Hook, Key

_HTTP_CONFIG = Key("http_config")
Url = Annotated[str, Hook(am.am_url)]
TemplateMap = Annotated[Mapping[str, str], Hook(am.template_map)]
ConfigPath = Annotated[str, Hook(am.config_path)]


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


def _pagerduty_details(value: object) -> dict[str, str]:
    """``details``: Alertmanager's four entries, each replaced by a key of the same name."""
    return {**PAGERDUTY_DETAILS, **am.template_map(value)}


@dataclass(frozen=True, kw_only=True)
class PagerdutyImage:
    """``images[]``: templated ``src`` (an image without one is left out), ``alt``, ``href``."""

    src: Template = ""
    alt: Template = ""
    href: Template = ""


@dataclass(frozen=True, kw_only=True)
class PagerdutyLink:
    """``links[]``: templated ``href`` (a link without one is left out) and ``text``."""

    href: Template = ""
    text: Template = ""


@dataclass(frozen=True, kw_only=True)
class PagerdutyConfig:
    """One ``pagerduty_configs[]`` entry; every text key is a Go template.

    Keys and defaults are Alertmanager 0.25's (``config/notifiers.go``
    ``DefaultPagerdutyConfig``; https://prometheus.io/docs/alerting/latest/configuration/
    #pagerduty_config). Exactly one of ``routing_key`` (Events API v2) and ``service_key`` (v1)
    is used; when both are given Alertmanager uses v1, and so does the watcher. ``url`` is
    ``global.pagerduty_url`` unless the entry gives one; ``source`` is ``client`` unless given.
    """

    routing_key: Annotated[Secret | None, Hook(am.templated_secret)] = None
    service_key: Annotated[Secret | None, Hook(am.templated_secret)] = None
    url: Url = PAGERDUTY_URL
    url_set: bool = False  # ``url`` given on the entry itself (not the global default)
    client: Template = '{{ template "pagerduty.default.client" . }}'
    client_url: Template = '{{ template "pagerduty.default.clientURL" . }}'
    description: Template = '{{ template "pagerduty.default.description" .}}'
    details: Annotated[Mapping[str, str], Hook(_pagerduty_details)] = field(
        default_factory=lambda: dict(PAGERDUTY_DETAILS)
    )
    images: tuple[PagerdutyImage, ...] = ()
    links: tuple[PagerdutyLink, ...] = ()
    source: Template = ""  # "" = the client template, as Alertmanager fills it in
    severity: Template = ""  # "" = "error", as Alertmanager fills it in when sending
    class_: Annotated[str, Hook(template), Key("class")] = ""
    component: Template = ""
    group: Template = ""
    send_resolved: bool = True
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)

    @property
    def v1(self) -> bool:
        """Whether events go to the v1 API (a ``service_key``)."""
        return self.service_key is not None


OPSGENIE_API_URL = "https://api.opsgenie.com/"  # Alertmanager's global.opsgenie_api_url


@dataclass(frozen=True, kw_only=True)
class OpsgenieResponder:
    """``responders[]``: one of ``id``, ``name``, ``username``, and a ``type``; all templated."""

    id: Template = ""
    name: Template = ""
    username: Template = ""
    type: Template = ""


@dataclass(frozen=True, kw_only=True)
class OpsgenieConfig:
    """One ``opsgenie_configs[]`` entry; every text key is a Go template (Alertmanager 0.25's
    ``DefaultOpsGenieConfig``, https://prometheus.io/docs/alerting/latest/configuration/
    #opsgenie_config). ``api_key`` and ``api_url`` are ``global.opsgenie_api_key[_file]`` and
    ``global.opsgenie_api_url`` unless given; ``api_url`` always ends in ``/``."""

    api_key: Annotated[Secret, Hook(am.templated_secret)]
    api_url: Annotated[str, Hook(am.slashed_url)] = OPSGENIE_API_URL
    message: Template = '{{ template "opsgenie.default.message" . }}'
    description: Template = '{{ template "opsgenie.default.description" . }}'
    source: Template = '{{ template "opsgenie.default.source" . }}'
    details: TemplateMap = field(default_factory=dict)
    entity: Template = ""
    responders: tuple[OpsgenieResponder, ...] = ()
    actions: Template = ""
    tags: Template = ""
    note: Template = ""
    priority: Template = ""
    update_alerts: bool = False
    send_resolved: bool = True
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class TlsConfig:
    """Prometheus's ``tls_config`` (of ``email_configs``): files are paths, read when a
    connection is made (relative to the config's folder)."""

    ca_file: ConfigPath = ""
    cert_file: ConfigPath = ""  # given with key_file (watcher.config.email)
    key_file: ConfigPath = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: Annotated[str, Hook(am.tls_version)] = ""


@dataclass(frozen=True, kw_only=True)
class EmailConfig:
    """One ``email_configs[]`` entry (Alertmanager 0.25's keys,
    https://prometheus.io/docs/alerting/latest/configuration/#email_config).

    ``to`` is required; ``from``, ``smarthost``, ``hello``, ``auth_*`` and ``require_tls`` are
    ``global.smtp_<key>`` unless given (``watcher.config.email``); header names are canonical
    MIME keys and ``Subject``, ``To`` and ``From`` are always present once loaded.
    """

    to: Template = ""
    from_: Annotated[str, Hook(template), Key("from")] = ""
    smarthost: Annotated[tuple[str, int], Hook(am.smarthost)] = ("", 0)
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: Secret | None = None
    auth_secret: Annotated[am.InlineSecret | None, Hook(am.inline_secret)] = None
    auth_identity: str = ""
    #: canonical header name -> template; Subject, To and From always present
    headers: Annotated[Mapping[str, str], Hook(am.email_headers)] = field(default_factory=dict)
    html: Template = '{{ template "email.default.html" . }}'
    text: Template = ""
    require_tls: bool = True
    tls: Annotated[TlsConfig, Key("tls_config")] = field(default_factory=TlsConfig)
    send_resolved: bool = False


TELEGRAM_API_URL = "https://api.telegram.org"  # Alertmanager's global.telegram_api_url


@dataclass(frozen=True, kw_only=True)
class TelegramConfig:
    """One ``telegram_configs[]`` entry (Alertmanager's ``TelegramConfig``,
    https://prometheus.io/docs/alerting/latest/configuration/#telegram_config; ``bot_token_file``
    as Alertmanager has it from 0.26); ``api_url`` is ``global.telegram_api_url`` unless given."""

    bot_token: Secret
    chat_id: Annotated[int, Hook(am.chat_id)] = 0  # 0 is missing: required
    api_url: Annotated[str, Hook(am.api_url)] = TELEGRAM_API_URL
    message: Template = '{{ template "telegram.default.message" . }}'
    disable_notifications: bool = False
    parse_mode: Annotated[str, Hook(am.parse_mode)] = "HTML"
    send_resolved: bool = True
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)


@dataclass(frozen=True, kw_only=True)
class MsteamsConfig:
    """One ``msteams_configs[]`` entry: Alertmanager 0.27's keys and defaults, templated.

    Alertmanager 0.25 (the Debian package this project compares against) has no Teams
    receiver; it arrived in 0.26, and 0.27 added ``summary`` and ``webhook_url_file``
    (``DefaultMSTeamsConfig``, https://prometheus.io/docs/alerting/latest/configuration/
    #msteams_config).
    """

    webhook_url: Annotated[Secret, Hook(am.url_secret)]
    title: Template = '{{ template "msteams.default.title" . }}'
    summary: Template = '{{ template "msteams.default.summary" . }}'
    text: Template = '{{ template "msteams.default.text" . }}'
    send_resolved: bool = True
    http: Annotated[HttpConfig, _HTTP_CONFIG] = field(default_factory=HttpConfig)


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
