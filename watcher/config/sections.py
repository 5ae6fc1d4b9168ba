"""The config's converter (``SCHEMA``) and the hooks of the sections whose keys are not fields.

Most sections are built straight from their model class. The hooks here are for the ones the
file writes differently from the model: a source's ``type`` picks its class, ``server.listen``
is a host and a port, ``http_config`` names auth the model holds as a token or a pair, an
inhibit rule's matchers come in three spellings. Each checks what spans several keys.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Annotated, Any

from watcher.config import email, opsgenie, pagerduty, push, slack, telegram
from watcher.config.amchecks import global_config
from watcher.config.model import (
    ApiConfig,
    CoinwCouponConfig,
    CoinwInviteeConfig,
    ConsoleConfig,
    HttpConfig,
    InhibitRule,
    MsteamsConfig,
    OpsgenieConfig,
    PagerdutyConfig,
    ServerConfig,
    SlackConfig,
    SourceConfig,
    TelegramConfig,
    TradebossConfig,
    WebhookConfig,
)
from watcher.config.scalars import (
    CONTEXT,
    DurationOrZero,
    Matchers,
    Secret,
    boolean,
    integer,
    legacy_match,
    secret,
    string,
)
from watcher.matchers import Matcher
from watcher.timeinterval import TimeInterval
from watcher.validate import Hook, Invalid, Schema, refuse

SCHEMA = Schema({str: string, int: integer, bool: boolean, Secret: secret}, file_pairs=Secret)

_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]*)):(?P<port>\d{1,5})$")


def parse_listen(listen: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` for IPv6) as (host, port); None when malformed."""
    m = _LISTEN.match(listen)
    if m is None:
        return None
    host = m.group("v6") or m.group("host") or "0.0.0.0"
    port = int(m.group("port"))
    return (host, port) if port <= 65535 else None


# -- sources ---------------------------------------------------------------------------------

SOURCE_TYPES: dict[str, type[SourceConfig]] = {
    "coinw_mega_coupon": CoinwCouponConfig,
    "coinw_invitee_volume": CoinwInviteeConfig,
    "tradeboss_balance": TradebossConfig,
}


def _source(value: Any) -> SourceConfig:
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping with name and type")
    if value.get("type") is None:
        raise Invalid("is required", ("type",))
    try:
        kind = string(value["type"])
    except Invalid as exc:
        raise Invalid(exc.message, ("type",)) from None
    if kind not in SOURCE_TYPES:
        msg = f'expected one of {", ".join(SOURCE_TYPES)}, got "{kind}"'
        raise Invalid(msg, ("type",))
    built: SourceConfig = SCHEMA.structure(value, SOURCE_TYPES[kind])
    return built


def _check_source(source: SourceConfig, raw: Mapping[str, Any]) -> SourceConfig:
    problems: list[Exception] = []
    if "stale_after" not in raw:
        source = dataclasses.replace(source, stale_after=5 * source.interval)
    elif source.stale_after < source.interval:
        # Healthy series would vanish between two polls and absent() rules would flap.
        msg = f"must be at least the interval ({source.interval:g}s)"
        problems.append(Invalid(msg, ("stale_after",)))
    if isinstance(source, TradebossConfig):
        if not source.accounts:
            problems.append(Invalid("must list at least one account", ("accounts",)))
        seen: set[tuple[str, str, str]] = set()
        for i, a in enumerate(source.accounts):
            key = (a.third_server_code, a.user_name, a.currency)
            if key in seen:
                problems.append(Invalid("lists the same account twice", ("accounts", i)))
            seen.add(key)
    refuse(problems, "source")
    return source


SCHEMA.hook(SourceConfig, _source)
SCHEMA.after(SourceConfig, _check_source)


# -- server ----------------------------------------------------------------------------------


def _listen(value: Any) -> tuple[str, int]:
    listen = string(value)
    parsed = parse_listen(listen)
    if parsed is None:
        msg = f'expected host:port like 0.0.0.0:9746, got "{listen}"'
        raise Invalid(msg)
    return parsed


@dataclass(frozen=True, kw_only=True)
class _ServerFile:
    listen: Annotated[tuple[str, int], Hook(_listen)] = (ServerConfig.host, ServerConfig.port)
    web_config_file: str = ServerConfig.web_config_file
    api: ApiConfig = field(default_factory=ApiConfig)


def _server(value: Any) -> ServerConfig:
    f = SCHEMA.structure(value, _ServerFile)
    web = f.web_config_file
    if web and not FsPath(web).is_absolute():
        web = str(CONTEXT.get().base_dir / web)
    return ServerConfig(host=f.listen[0], port=f.listen[1], web_config_file=web, api=f.api)


SCHEMA.hook(ServerConfig, _server)


# -- receivers -------------------------------------------------------------------------------


def _bearer(value: Any) -> str:
    text = string(value)
    if text != "Bearer":
        msg = f'only "Bearer" is supported, got "{text}"'
        raise Invalid(msg)
    return text


@dataclass(frozen=True, kw_only=True)
class _Authorization:
    type: Annotated[str, Hook(_bearer)] = "Bearer"
    credentials: Secret


@dataclass(frozen=True, kw_only=True)
class _BasicAuth:
    username: str
    password: Secret


@dataclass(frozen=True, kw_only=True)
class _HttpFile:
    authorization: _Authorization | None = None
    basic_auth: _BasicAuth | None = None
    timeout: DurationOrZero = HttpConfig.timeout


#: Stands for an absent ``http_config``: ``global.http_config`` or the defaults.
GLOBAL_HTTP = object()


def _global_http(value: Mapping[str, Any], _raw: Any) -> Mapping[str, Any]:
    if "http_config" in value:
        return value
    return {**value, "http_config": GLOBAL_HTTP}


def _http(value: Any) -> HttpConfig:
    if value is GLOBAL_HTTP:
        global_http = global_config().http_config
        return HttpConfig() if global_http is None else global_http
    f = SCHEMA.structure(value, _HttpFile)
    if f.authorization is not None and f.basic_auth is not None:
        raise Invalid("give either authorization or basic_auth, not both")
    return HttpConfig(
        bearer_token=None if f.authorization is None else f.authorization.credentials,
        basic_auth=None if f.basic_auth is None else (f.basic_auth.username, f.basic_auth.password),
        timeout=f.timeout,
    )


SCHEMA.hook(HttpConfig, _http)
# alertmanager_configs: Prometheus's, no global; email_configs: no http_config
for _receiver in (
    SlackConfig,
    WebhookConfig,
    PagerdutyConfig,
    OpsgenieConfig,
    MsteamsConfig,
    TelegramConfig,
):
    SCHEMA.before(_receiver, _global_http)
SCHEMA.nullable(ConsoleConfig)


for _module in (slack, pagerduty, opsgenie, email, telegram, push):
    _module.register(SCHEMA)


# -- inhibition and time intervals -----------------------------------------------------------

LegacyMatch = Annotated[tuple[Matcher, ...], legacy_match("=")]
LegacyMatchRe = Annotated[tuple[Matcher, ...], legacy_match("=~")]


@dataclass(frozen=True, kw_only=True)
class _InhibitFile:
    source_matchers: Matchers = ()
    target_matchers: Matchers = ()
    source_match: LegacyMatch = ()
    source_match_re: LegacyMatchRe = ()
    target_match: LegacyMatch = ()
    target_match_re: LegacyMatchRe = ()
    equal: tuple[str, ...] = ()


def _inhibit(value: Any) -> InhibitRule:
    f = SCHEMA.structure(value, _InhibitFile)
    source = f.source_matchers + f.source_match + f.source_match_re
    target = f.target_matchers + f.target_match + f.target_match_re
    problems: list[Exception] = []
    if not source:
        problems.append(Invalid("needs source_matchers"))
    if not target:
        problems.append(Invalid("needs target_matchers"))
    refuse(problems, "inhibit rule")
    return InhibitRule(source_matchers=source, target_matchers=target, equal=f.equal)


SCHEMA.hook(InhibitRule, _inhibit)


@dataclass(frozen=True, kw_only=True)
class NamedIntervals:
    """One ``time_intervals[]`` (or ``mute_time_intervals[]``) entry."""

    name: str
    time_intervals: tuple[TimeInterval, ...] = field(default=())
