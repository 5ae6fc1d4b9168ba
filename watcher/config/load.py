"""Load and validate the config file: every problem at once, each with file, line and key path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from watcher.config import email, telegram
from watcher.config.amreceivers import GLOBAL_KEYS, KINDS, AmReceivers
from watcher.config.ha import read_ha
from watcher.config.model import (
    COUPON_STATUSES,
    DEFAULT_BODY_SIZE_LIMIT,
    AlertmanagerConfig,
    ApiConfig,
    CoinwCouponConfig,
    CoinwInviteeConfig,
    Config,
    ConsoleConfig,
    EmailConfig,
    GlobalConfig,
    HttpConfig,
    InhibitRule,
    ReceiverConfig,
    RouteConfig,
    Secret,
    ServerConfig,
    SlackConfig,
    SourceConfig,
    StorageConfig,
    TelegramConfig,
    TradebossAccount,
    TradebossConfig,
    WebhookConfig,
)
from watcher.config.push import check_one_push_per_key, read_push
from watcher.config.reader import Reader
from watcher.config.slack import GLOBAL_KEYS as SLACK_GLOBAL_KEYS
from watcher.config.slack import read_slack
from watcher.config.timeintervals import read_time_intervals
from watcher.errors import ConfigError
from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import load_templates
from watcher.timeinterval import TimeInterval
from watcher.yamlpos import Path, load_located

# CoinW allows one almightyGoldInfo request per 2 s per user and IP
# (docs/upstream-apis.md, from the endpoint's "Frequency Limit").
COUPON_MIN_REQUEST_SPACING = 2.0

_TOP = {
    "global",
    "server",
    "storage",
    "sources",
    "rule_files",
    "route",
    "receivers",
    "inhibit_rules",
    "templates",
    "time_intervals",
    "mute_time_intervals",
    "ha",
}
_COMMON = {"name", "type", "interval", "timeout", "stale_after", "labels", "body_size_limit"}
_SOURCE_KEYS = {
    "coinw_mega_coupon": _COMMON
    | {"base_url", "api_key", "api_key_file", "secret_key", "secret_key_file", "statuses", "push"},
    "coinw_invitee_volume": _COMMON
    | {
        "base_url",
        "api_key",
        "api_key_file",
        "secret_key",
        "secret_key_file",
        "lookback_days",
        "top_invitees",
        "page_size",
        "signer",
    },
    "tradeboss_balance": _COMMON | {"base_url", "company_id", "headers", "accounts", "concurrency"},
}
SIGNERS = ("futures", "futures_sorted")
_ROUTE_KEYS = {
    "mute_time_intervals",
    "active_time_intervals",
    "receiver",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "matchers",
    "match",
    "match_re",
    "continue",
    "routes",
}
_HTTP_KEYS = {"authorization", "basic_auth", "timeout"}
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]*)):(?P<port>\d{1,5})$")
_URL = re.compile(r"^https?://[^\s/]+")
# Prometheus's <size>: base-2 units (alecthomas/units Base2Bytes), "KiB" spellings too.
_SIZE = re.compile(r"^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)$")
_SIZE_UNITS = {"B": 1, "K": 2**10, "M": 2**20, "G": 2**30}
MAX_BODY_SIZE_LIMIT = 2**30


def load_config(file: str | FsPath, env: Mapping[str, str] | None = None) -> Config:
    """Read ``file``; raise ``ConfigError`` listing every problem, or return the config."""
    path = FsPath(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read config file: {exc.strerror}"
        raise ConfigError([msg]) from None
    except UnicodeDecodeError as exc:
        msg = f"{path}: the config file is not UTF-8 text (byte {exc.start})"
        raise ConfigError([msg]) from None
    return parse_config(text, path, env)


def parse_config(text: str, file: FsPath, env: Mapping[str, str] | None = None) -> Config:
    """Validate config ``text`` that came from ``file``."""
    doc, problems = load_located(text, str(file))
    if doc is None:
        raise ConfigError(problems)
    if doc.data is None:
        doc.data = {}
    r = Reader(doc, env)
    r.problems.extend(problems)
    if not r.mapping((), _TOP):
        raise ConfigError(r.problems or [f"{file}:1: expected a mapping at the top level"])
    cfg = _ConfigBuilder(r, file).build()
    if r.problems:
        raise ConfigError(sorted(r.problems, key=_line_of))
    return cfg


def parse_listen(listen: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` for IPv6) as (host, port); None when malformed."""
    m = _LISTEN.match(listen)
    if m is None:
        return None
    host = m.group("v6") or m.group("host") or "0.0.0.0"
    port = int(m.group("port"))
    return (host, port) if port <= 65535 else None


def _line_of(problem: str) -> int:
    """Sort key: the line number in ``file:line path: message``."""
    head = problem.split(" ", 1)[0].rstrip(":")
    number = head.rsplit(":", 1)[-1]
    return int(number) if number.isdigit() else 0


class _ConfigBuilder:
    def __init__(self, r: Reader, file: FsPath) -> None:
        self.r = r
        self.file = file
        self.warnings: list[str] = []
        self.templates: Templates = load_templates()
        self.time_intervals: dict[str, tuple[TimeInterval, ...]] = {}
        self.am_receivers: AmReceivers | None = None
        self.global_http: HttpConfig | None = None

    def build(self) -> Config:
        r = self.r
        self.time_intervals = read_time_intervals(r)
        template_files = r.str_list(("templates",))
        try:
            self.templates = load_templates(template_files, FsPath(self.file).parent)
        except ValueError as exc:
            r.problem(("templates",), str(exc))
            self.templates = load_templates()
        sources = r.each(("sources",), self.source)
        self._check_unique(("sources",), [s.name for s in sources], "source name")
        check_one_push_per_key(r, sources)
        receivers = r.each(("receivers",), self.receiver)
        self._check_unique(("receivers",), [x.name for x in receivers], "receiver name")
        route = self.route(("route",), None) if r.get(("route",)) is not None else None
        if route is not None:
            self._check_receivers(route, ("route",), {x.name for x in receivers})
        elif receivers:
            r.problem(("receivers",), "receivers are configured but there is no route")
        rule_files = r.str_list(("rule_files",))
        self._warn_coupon_rate(sources)
        return Config(
            file=self.file,
            global_=self.global_(),
            server=self.server(),
            storage=self.storage(),
            sources=sources,
            rule_files=rule_files,
            route=route,
            receivers=receivers,
            inhibit_rules=r.each(("inhibit_rules",), self.inhibit),
            templates=template_files,
            time_intervals=self.time_intervals,
            warnings=tuple(self.warnings),
            ha=read_ha(r),
        )

    def global_(self) -> GlobalConfig:
        r, p = self.r, ("global",)
        keys = {"evaluation_interval", "external_labels", "external_url", "http_config"}
        more = GLOBAL_KEYS | email.GLOBAL_KEYS | telegram.GLOBAL_KEYS | SLACK_GLOBAL_KEYS
        if not r.mapping(p, keys | more):
            return GlobalConfig()
        return GlobalConfig(
            evaluation_interval=r.duration((*p, "evaluation_interval"), 15.0),
            external_labels=r.labels((*p, "external_labels")),
            external_url=r.string((*p, "external_url"), ""),
        )

    def server(self) -> ServerConfig:
        r, p = self.r, ("server",)
        if not r.mapping(p, {"listen", "web_config_file", "api"}):
            return ServerConfig()
        listen = str(r.string((*p, "listen"), "0.0.0.0:9746"))
        parsed = parse_listen(listen)
        if parsed is None:
            r.problem((*p, "listen"), f'expected host:port like 0.0.0.0:9746, got "{listen}"')
            return ServerConfig()
        web = str(r.string((*p, "web_config_file"), ""))
        if web and not FsPath(web).is_absolute():
            web = str(self.file.parent / web)
        api = ApiConfig()
        if r.mapping((*p, "api"), {"silences", "writers"}):
            modes = ("read-write", "read-only", "off")
            api = ApiConfig(
                silences=r.choice((*p, "api", "silences"), modes, "read-write"),
                writers=r.str_list((*p, "api", "writers")),
            )
        return ServerConfig(host=parsed[0], port=parsed[1], web_config_file=web, api=api)

    def storage(self) -> StorageConfig:
        r, p = self.r, ("storage",)
        keys = {"path", "notification_queue_capacity", "retention", "max_samples_in_memory"}
        if not r.mapping(p, keys):
            return StorageConfig()
        return StorageConfig(
            path=r.string((*p, "path"), StorageConfig.path),
            notification_queue_capacity=r.integer(
                (*p, "notification_queue_capacity"),
                StorageConfig.notification_queue_capacity,
                minimum=1,
            ),
            retention=r.duration((*p, "retention"), StorageConfig.retention, positive=False),
            max_samples_in_memory=r.integer(
                (*p, "max_samples_in_memory"), StorageConfig.max_samples_in_memory, minimum=1000
            ),
        )

    # -- sources -----------------------------------------------------------------------------

    def source(self, p: Path) -> SourceConfig | None:
        r = self.r
        raw = r.get(p)
        if not isinstance(raw, Mapping):
            r.problem(p, "expected a mapping with name and type")
            return None
        kind = r.choice((*p, "type"), tuple(_SOURCE_KEYS))
        if kind not in _SOURCE_KEYS:
            return None
        r.mapping(p, _SOURCE_KEYS[kind])
        name = str(r.string((*p, "name")))
        if name and not _SOURCE_NAME.match(name):
            r.problem((*p, "name"), f'expected letters, digits, "_", "." or "-", got "{name}"')
        interval = r.duration((*p, "interval"), 60.0)
        stale_after = r.duration((*p, "stale_after"), 5 * interval)
        if stale_after < interval:
            # Healthy series would vanish between two polls and absent() rules would flap.
            r.problem((*p, "stale_after"), f"must be at least the interval ({interval:g}s)")
        common = {
            "name": name,
            "type": kind,
            "interval": interval,
            "timeout": r.duration((*p, "timeout"), 10.0),
            "stale_after": stale_after,
            "labels": r.labels((*p, "labels")),
            "body_size_limit": self._size((*p, "body_size_limit"), DEFAULT_BODY_SIZE_LIMIT),
        }
        for reserved in ("source",):
            if reserved in common["labels"]:
                r.problem((*p, "labels", reserved), f'label "{reserved}" is set by watcher')
        if kind == "coinw_mega_coupon":
            return self._coupon(p, common)
        if kind == "coinw_invitee_volume":
            return self._invitee(p, common)
        return self._tradeboss(p, common)

    def _size(self, p: Path, default: int) -> int:
        """A byte size like ``32MiB`` or ``512KB`` (Prometheus's base-2 units), 1 KiB to 1 GiB."""
        raw = self.r.get(p)
        if raw is None:
            return default
        match = _SIZE.match(str(raw).strip()) if not isinstance(raw, bool) else None
        if match is None:
            self.r.problem(p, f'expected a size like 32MiB or 512KB, got "{str(raw)[:40]}"')
            return default
        size = int(match[1]) * _SIZE_UNITS[match[2][0]]
        if not 1024 <= size <= MAX_BODY_SIZE_LIMIT:
            self.r.problem(p, f"must be from 1KiB to 1GiB, got {match[0]}")
        return size

    def _url(self, p: Path, default: str | None = None) -> str:
        url = str(self.r.string(p) if default is None else self.r.string(p, default))
        if url and not _URL.match(url):
            self.r.problem(p, f'expected an http(s) URL, got "{url}"')
        return url.rstrip("/")

    def _coupon(self, p: Path, common: dict[str, Any]) -> CoinwCouponConfig | None:
        r = self.r
        statuses = r.str_list((*p, "statuses"), ("pending", "unused"))
        for i, status in enumerate(statuses):
            if status not in COUPON_STATUSES:
                r.problem(
                    (*p, "statuses", i),
                    f'expected one of {", ".join(COUPON_STATUSES)}, got "{status}"',
                )
        if not statuses:
            r.problem((*p, "statuses"), "must list at least one status")
        if len(set(statuses)) != len(statuses):
            r.problem((*p, "statuses"), "lists a status twice")
        api_key, secret_key = r.secret(p, "api_key"), r.secret(p, "secret_key")
        base_url = self._url((*p, "base_url"), "https://api.coinw.com")
        push = read_push(r, (*p, "push"), self._size)
        if api_key is None or secret_key is None:
            return None
        return CoinwCouponConfig(
            base_url=base_url,
            api_key=api_key,
            secret_key=secret_key,
            statuses=statuses,
            push=push,
            **common,
        )

    def _invitee(self, p: Path, common: dict[str, Any]) -> CoinwInviteeConfig | None:
        r = self.r
        api_key, secret_key = r.secret(p, "api_key"), r.secret(p, "secret_key")
        cfg = {
            "base_url": self._url((*p, "base_url"), "https://api.coinw.com"),
            "lookback_days": r.integer((*p, "lookback_days"), 30, minimum=1, maximum=365),
            "top_invitees": r.integer((*p, "top_invitees"), 50, minimum=0, maximum=10_000),
            "page_size": r.integer((*p, "page_size"), 1000, minimum=1, maximum=1000),
            "signer": r.choice((*p, "signer"), SIGNERS, "futures"),
        }
        if api_key is None or secret_key is None:
            return None
        return CoinwInviteeConfig(api_key=api_key, secret_key=secret_key, **cfg, **common)

    def _tradeboss(self, p: Path, common: dict[str, Any]) -> TradebossConfig | None:
        r = self.r
        headers = self._headers((*p, "headers"))
        accounts = r.each((*p, "accounts"), self._account)
        if not accounts:
            r.problem((*p, "accounts"), "must list at least one account")
        seen: set[tuple[str, str, str]] = set()
        for i, a in enumerate(accounts):
            key = (a.third_server_code, a.user_name, a.currency)
            if key in seen:
                r.problem((*p, "accounts", i), "lists the same account twice")
            seen.add(key)
        return TradebossConfig(
            base_url=self._url((*p, "base_url")),
            company_id=r.integer((*p, "company_id"), minimum=0),
            headers=headers,
            accounts=accounts,
            concurrency=r.integer((*p, "concurrency"), 8, minimum=1, maximum=256),
            **common,
        )

    def _headers(self, p: Path) -> dict[str, Secret]:
        """Static headers, each a secret given inline (``Name: value``) or as ``Name_file``."""
        raw = self.r.get(p)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.r.problem(p, "expected a mapping of header names to values")
            return {}
        names = {str(k).removesuffix("_file") for k in raw}
        headers: dict[str, Secret] = {}
        for name in sorted(names):
            if not _HEADER_NAME.match(name):
                self.r.problem((*p, name), f'invalid HTTP header name "{name}"')
                continue
            secret = self.r.secret(p, name)
            if secret is not None:
                headers[name] = secret
        return headers

    def _account(self, p: Path) -> TradebossAccount | None:
        r = self.r
        if not r.mapping(p, {"third_server_code", "user_name", "currency"}, required=True):
            return None
        currency = str(r.string((*p, "currency")))
        if currency and not _CURRENCY.match(currency):
            r.problem((*p, "currency"), f'expected an ISO 4217 code like HKD, got "{currency}"')
        return TradebossAccount(
            third_server_code=str(r.string((*p, "third_server_code"))),
            user_name=str(r.string((*p, "user_name"))),
            currency=currency,
        )

    def _warn_coupon_rate(self, sources: tuple[SourceConfig, ...]) -> None:
        """Warn when the statuses of the sources sharing a key cannot be polled every interval."""
        by_key: dict[str, list[CoinwCouponConfig]] = {}
        for s in sources:
            if isinstance(s, CoinwCouponConfig):
                by_key.setdefault(s.api_key.get(), []).append(s)
        for group in by_key.values():
            requests = sum(len(s.statuses) for s in group)
            needed = requests * COUPON_MIN_REQUEST_SPACING
            for s in group:
                if s.interval < needed:
                    self.warnings.append(
                        f"{self.file}: source {s.name}: interval {s.interval:g}s cannot be met: "
                        f"{requests} almightyGoldInfo requests on this API key need at least "
                        f"{needed:g}s at CoinW's limit of 1 request per 2s; polls will take longer"
                    )

    def _check_unique(self, p: Path, names: list[str], what: str) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                self.r.problem((*p, i, "name"), f'duplicate {what} "{name}"')
            seen.add(name)

    # -- routing and receivers -----------------------------------------------------------------

    def route(self, p: Path, parent: RouteConfig | None) -> RouteConfig | None:
        r = self.r
        if not r.mapping(p, _ROUTE_KEYS, required=True):
            return None
        receiver = r.string((*p, "receiver"), None if parent is None else parent.receiver)
        if receiver is None:
            r.problem((*p, "receiver"), "the root route needs a receiver")
            receiver = ""
        matchers = (
            r.matcher_list((*p, "matchers"))
            + r.legacy_match((*p, "match"), regex=False)
            + r.legacy_match((*p, "match_re"), regex=True)
        )
        if parent is None and matchers:
            r.problem((*p, "matchers"), "the root route must not have matchers")
        group_by: tuple[str, ...] | None
        if r.get((*p, "group_by")) is None:
            group_by = () if parent is None else parent.group_by
        else:
            names = r.str_list((*p, "group_by"))
            if "..." in names:
                if len(names) > 1:
                    r.problem((*p, "group_by"), "'...' must be the only entry")
                group_by = None
            else:
                group_by = names
        base = parent or RouteConfig(receiver=receiver)
        node = RouteConfig(
            receiver=receiver,
            group_by=group_by,
            # Alertmanager allows 0 here (send at once), not for group_interval or repeat_interval.
            group_wait=r.duration((*p, "group_wait"), base.group_wait, positive=False),
            group_interval=r.duration((*p, "group_interval"), base.group_interval),
            repeat_interval=r.duration((*p, "repeat_interval"), base.repeat_interval),
            matchers=matchers,
            continue_=r.boolean((*p, "continue"), False),
        )
        if parent is None and node.continue_:
            r.problem((*p, "continue"), "the root route cannot continue")
        mute, active = self._interval_names(p, root=parent is None)
        children = tuple(
            child
            for i, _ in enumerate(r.seq((*p, "routes")))
            if (child := self.route((*p, "routes", i), node)) is not None
        )
        return RouteConfig(
            receiver=node.receiver,
            group_by=node.group_by,
            group_wait=node.group_wait,
            group_interval=node.group_interval,
            repeat_interval=node.repeat_interval,
            matchers=node.matchers,
            continue_=node.continue_,
            routes=children,
            mute_time_intervals=mute,
            active_time_intervals=active,
        )

    def _interval_names(self, p: Path, *, root: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
        r = self.r
        out = []
        for key, what in (("mute_time_intervals", "mute"), ("active_time_intervals", "active")):
            names = r.str_list((*p, key))
            if root and names:
                r.problem((*p, key), f"the root route must not have any {what} time intervals")
                names = ()
            for name in names:
                if name not in self.time_intervals:
                    r.problem((*p, key), f'undefined time interval "{name}" used in route')
            out.append(names)
        return out[0], out[1]

    def _check_receivers(self, route: RouteConfig, p: Path, names: set[str]) -> None:
        # a child that inherits its receiver was already reported with its parent
        if route.receiver not in names and (p == ("route",) or self.r.has((*p, "receiver"))):
            self.r.problem((*p, "receiver"), f'undefined receiver "{route.receiver}"')
        for i, child in enumerate(route.routes):
            self._check_receivers(child, (*p, "routes", i), names)

    def receiver(self, p: Path) -> ReceiverConfig | None:
        r = self.r
        kinds = ("slack_configs", "webhook_configs", "alertmanager_configs", "console_configs")
        if not r.mapping(
            p, {"name", *kinds, *KINDS, "email_configs", "telegram_configs"}, required=True
        ):
            return None
        if self.am_receivers is None:
            self.am_receivers = AmReceivers(r, self.templates, self._receiver_http)
        return ReceiverConfig(
            **self.am_receivers.read(p),
            name=str(r.string((*p, "name"))),
            slack_configs=r.each((*p, "slack_configs"), self._slack),
            webhook_configs=r.each((*p, "webhook_configs"), self._webhook),
            alertmanager_configs=r.each((*p, "alertmanager_configs"), self._alertmanager),
            console_configs=r.each((*p, "console_configs"), self._console),
            email_configs=r.each((*p, "email_configs"), self._email),
            telegram_configs=r.each((*p, "telegram_configs"), self._telegram),
        )

    def _email(self, p: Path) -> EmailConfig | None:
        return email.read_email(self.r, p, self.templates)

    def _telegram(self, p: Path) -> TelegramConfig | None:
        return telegram.read_telegram(self.r, p, self.templates, self._receiver_http)

    def _receiver_http(self, p: Path) -> HttpConfig:
        """A receiver's ``http_config``, or ``global.http_config`` without one (Alertmanager)."""
        if self.r.get(p) is not None or self.r.get(_GLOBAL_HTTP) is None:
            return self._http(p)
        if self.global_http is None:
            self.global_http = self._http(_GLOBAL_HTTP)
        return self.global_http

    def _http(self, p: Path) -> HttpConfig:
        r = self.r
        if not r.mapping(p, _HTTP_KEYS):
            return HttpConfig()
        bearer = None
        if r.mapping((*p, "authorization"), {"type", "credentials", "credentials_file"}):
            auth_type = r.string((*p, "authorization", "type"), "Bearer")
            if auth_type != "Bearer":
                r.problem(
                    (*p, "authorization", "type"), f'only "Bearer" is supported, got "{auth_type}"'
                )
            bearer = r.secret((*p, "authorization"), "credentials")
        basic = None
        if r.mapping((*p, "basic_auth"), {"username", "password", "password_file"}):
            password = r.secret((*p, "basic_auth"), "password")
            if password is not None:
                basic = (str(r.string((*p, "basic_auth", "username"))), password)
        if bearer is not None and basic is not None:
            r.problem(p, "give either authorization or basic_auth, not both")
        return HttpConfig(
            bearer_token=bearer,
            basic_auth=basic,
            timeout=r.duration((*p, "timeout"), 0.0, positive=False),
        )

    def _slack(self, p: Path) -> SlackConfig | None:
        return read_slack(self.r, p, self.templates, self._receiver_http)

    def _webhook(self, p: Path) -> WebhookConfig | None:
        r = self.r
        if not r.mapping(
            p,
            {"url", "url_file", "send_resolved", "max_alerts", "timeout", "http_config"},
            required=True,
        ):
            return None
        url = r.secret(p, "url")
        if url is not None and not _URL.match(url.get()):
            r.problem((*p, "url"), "expected an http(s) URL (value not shown: it is a secret)")
        cfg = WebhookConfig(
            url=url or _NO_SECRET,
            send_resolved=r.boolean((*p, "send_resolved"), True),
            max_alerts=r.integer((*p, "max_alerts"), 0, minimum=0),
            timeout=r.duration((*p, "timeout"), 0.0, positive=False),
            http=self._receiver_http((*p, "http_config")),
        )
        return cfg if url is not None else None

    def _alertmanager(self, p: Path) -> AlertmanagerConfig | None:
        r = self.r
        if not r.mapping(p, {"url", "timeout", "http_config"}, required=True):
            return None
        return AlertmanagerConfig(
            url=self._url((*p, "url")),
            timeout=r.duration((*p, "timeout"), AlertmanagerConfig.timeout),
            http=self._http((*p, "http_config")),
        )

    def _console(self, p: Path) -> ConsoleConfig | None:
        r = self.r
        if r.get(p) is not None:
            r.mapping(p, {"send_resolved"})
        return ConsoleConfig(send_resolved=r.boolean((*p, "send_resolved"), True))

    def inhibit(self, p: Path) -> InhibitRule | None:
        r = self.r
        keys = {
            "source_matchers",
            "target_matchers",
            "source_match",
            "source_match_re",
            "target_match",
            "target_match_re",
            "equal",
        }
        if not r.mapping(p, keys, required=True):
            return None
        source = (
            r.matcher_list((*p, "source_matchers"))
            + r.legacy_match((*p, "source_match"), regex=False)
            + r.legacy_match((*p, "source_match_re"), regex=True)
        )
        target = (
            r.matcher_list((*p, "target_matchers"))
            + r.legacy_match((*p, "target_match"), regex=False)
            + r.legacy_match((*p, "target_match_re"), regex=True)
        )
        if not source:
            r.problem(p, "needs source_matchers")
        if not target:
            r.problem(p, "needs target_matchers")
        return InhibitRule(
            source_matchers=source, target_matchers=target, equal=r.str_list((*p, "equal"))
        )


_NO_SECRET = Secret("")
_GLOBAL_HTTP = ("global", "http_config")
