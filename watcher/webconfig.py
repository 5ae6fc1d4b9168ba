"""The web config file in exporter-toolkit's format: TLS, basic auth users, response headers.

The same YAML node_exporter, Prometheus and Alertmanager take with ``--web.config.file``
(https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md), read
with the same rules as ``web/tls_config.go``: unknown keys are errors, files are relative to the
web config file, ``min_version`` defaults to TLS12, client CAs need a client auth policy, and
the header list is exporter-toolkit's. What Python's ``ssl`` cannot do exactly as Go does is
refused with a one-line error rather than approximated: ``RequestClientCert`` and
``RequireAnyClientCert`` (Python verifies every client certificate it asks for) and more than
one entry in ``curve_preferences``. ``http2`` is accepted; the watcher speaks HTTP/1.1 only.

The file is read at start and on every reload (SIGHUP, ``POST /-/reload``); new connections
get the new TLS settings (``WebState``), so renewed certificates need no restart.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Annotated, Any, TypeVar

import structlog

from watcher.config.scalars import (
    Context,
    DurationOrZero,
    NonNegative,
    Secret,
    boolean,
    integer,
    loading,
    plain_text,
    string,
)
from watcher.errors import ConfigError
from watcher.tlsnames import CIPHERS, CLIENT_AUTH, CURVES, TLS_VERSIONS
from watcher.validate import Hook, Invalid, Schema, each, expected, refuse
from watcher.yamlpos import by_line, load_mapping, read_text

log = structlog.get_logger()
T = TypeVar("T")

#: exporter-toolkit's ``extraHTTPHeaders``: the only headers a web config may set, and the
#: values allowed for the enumerated ones (None: any value).
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_BCRYPT = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")
# exporter-toolkit's TLSConfig.IsEnabled: any of these set means TLS (and must be valid).
_ENABLING = frozenset(
    ["cert", "key", "client_ca", "cert_file", "key_file", "client_ca_file", "client_auth_type"]
)


@dataclass(frozen=True)
class WebConfig:
    """A valid web config: ``ssl`` is None when it configures no TLS."""

    file: str = ""
    ssl: ssl.SSLContext | None = field(default=None, compare=False)
    users: Mapping[str, Secret] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    client_allowed_sans: tuple[str, ...] | None = None
    rate_limit_interval: float = 0.0
    rate_limit_burst: int = 0


def _text(value: Any) -> str:
    """A value taken as written (a hash, a header value): never ``${ENV}``-expanded."""
    if value is None:
        raise Invalid("is required")
    return plain_text(value)


def _user(_name: str, value: Any) -> Secret:
    text = _text(value)
    m = _BCRYPT.match(text)
    if m is None:
        # Never echo the value: it may be a plain password pasted by mistake.
        raise Invalid("expected a bcrypt hash like $2y$10$... (htpasswd -nBC 10)")
    if not 4 <= int(m.group(1)) <= 31:
        msg = f"bcrypt cost {int(m.group(1))} is outside 4..31"
        raise Invalid(msg)
    return Secret(text)


def _header(name: str, value: Any) -> str:
    text = _text(value)
    if name not in HEADERS:
        msg = f'HTTP header "{name}" can not be configured'
        raise Invalid(msg)
    allowed = HEADERS[name]
    if allowed is not None and text not in allowed:
        msg = f'invalid value, expected one of {", ".join(allowed)}, got "{text}"'
        raise Invalid(msg)
    return text


def _mapping_of(fn: Callable[[str, Any], T], problem: str) -> Hook:
    """A mapping whose every value ``fn`` reads (refused as a whole with ``problem``)."""

    def read(value: Any) -> dict[str, T]:
        if not isinstance(value, Mapping):
            raise Invalid(problem)
        found, problems = each(value, fn)
        refuse(problems, problem)
        return dict(zip((str(k) for k in value), found, strict=True))

    return Hook(read)


def _client_auth(value: Any) -> ssl.VerifyMode:
    auth = string(value)
    if auth not in CLIENT_AUTH:
        msg = f'invalid ClientAuth: "{auth}"'
        raise Invalid(msg)
    mode = CLIENT_AUTH[auth]
    if mode is None:
        msg = (
            f"{auth} is not supported: Python's ssl verifies every client certificate it "
            "requests; use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )
        raise Invalid(msg)
    return mode


def _version(value: Any) -> ssl.TLSVersion:
    name = string(value)
    if name not in TLS_VERSIONS:
        msg = f'unknown TLS version: "{name}"'
        raise Invalid(msg)
    return TLS_VERSIONS[name]


def _names(value: Any, known: Mapping[str, str], what: str) -> list[str]:
    """A list of ``known`` names (Go's), each refused as an unknown ``what``; their OpenSSL names."""
    if not isinstance(value, list):
        raise expected("a list", value)

    def one(_i: int, item: Any) -> str:
        name = string(item)
        if name not in known:
            msg = f'unknown {what}: "{name}"'
            raise Invalid(msg)
        return name

    names, problems = each(value, one)
    refuse(problems, what)
    return names


def _ciphers(value: Any) -> tuple[str, ...]:
    return tuple(CIPHERS[n] for n in _names(value, CIPHERS, "cipher") if CIPHERS[n])


def _curve(value: Any) -> str:
    names = _names(value, CURVES, "curve")
    if not names:
        return ""
    if len(names) > 1 or not CURVES[names[0]]:
        msg = (
            "Python's ssl can only pin ECDHE to one NIST curve (CurveP256, CurveP384 or "
            f"CurveP521), not {', '.join(names)}; list one or leave the default"
        )
        raise Invalid(msg)
    return CURVES[names[0]]


@dataclass(frozen=True, kw_only=True)
class _Tls:
    """``tls_server_config``, with exporter-toolkit's defaults (``min_version`` TLS12)."""

    cert: str = ""
    key: str = ""
    client_ca: str = ""
    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""
    client_auth_type: Annotated[ssl.VerifyMode, Hook(_client_auth)] = ssl.CERT_NONE
    client_allowed_sans: tuple[str, ...] | None = None
    min_version: Annotated[ssl.TLSVersion, Hook(_version)] = ssl.TLSVersion.TLSv1_2
    max_version: Annotated[ssl.TLSVersion, Hook(_version)] = ssl.TLSVersion.TLSv1_3
    cipher_suites: Annotated[tuple[str, ...], Hook(_ciphers)] = ()  # OpenSSL's names
    prefer_server_cipher_suites: bool = True
    curve_preferences: Annotated[str, Hook(_curve)] = ""  # OpenSSL's name, or none


def _tls(value: Any) -> _Tls | None:
    """``tls_server_config``; None when it sets none of ``_ENABLING`` (then only its keys count)."""
    if not isinstance(value, Mapping):
        raise expected("a mapping", value)
    if not any(value.get(k) for k in _ENABLING):
        WEB.structure({k: v for k, v in value.items() if k not in WEB.keys(_Tls)}, _Tls)
        return None
    problems: list[Exception] = [
        Invalid(f"missing one of {k} or {k}_file")
        for k in ("cert", "key")
        if not value.get(k) and not value.get(f"{k}_file")
    ]
    tls = None
    try:
        tls = WEB.structure(value, _Tls)
    except Exception as exc:  # the fields' problems: reported with the two above
        problems.append(exc)
    if (
        tls is not None
        and (tls.client_ca or tls.client_ca_file)
        and tls.client_auth_type == ssl.CERT_NONE
    ):
        problems.append(Invalid("client CA's have been configured without a Client Auth Policy"))
    refuse(problems, "tls_server_config")
    return tls


@dataclass(frozen=True, kw_only=True)
class _HttpServer:
    http2: bool = True  # accepted; the watcher speaks HTTP/1.1 only
    headers: Annotated[
        Mapping[str, str], _mapping_of(_header, "expected a mapping of header names to values")
    ] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class _RateLimit:
    interval: DurationOrZero = WebConfig.rate_limit_interval
    burst: NonNegative = WebConfig.rate_limit_burst


@dataclass(frozen=True, kw_only=True)
class _WebFile:
    tls_server_config: Annotated[_Tls | None, Hook(_tls)] = None
    http_server_config: _HttpServer = field(default_factory=_HttpServer)
    basic_auth_users: Annotated[
        Mapping[str, Secret],
        _mapping_of(_user, "expected a mapping of user names to bcrypt hashes"),
    ] = field(default_factory=dict)
    rate_limit: _RateLimit = field(default_factory=_RateLimit)


WEB = Schema({str: string, int: integer, bool: boolean})


def load_web_config(file: str | FsPath | None) -> WebConfig:
    """Read a web config file (none: plain HTTP, no auth); raise ConfigError on any problem."""
    if not file:
        return WebConfig()
    path = FsPath(file)
    doc, problems = load_mapping(read_text(path, "web config file"), str(path))
    with loading(Context(env={}, base_dir=path.parent)):  # exporter-toolkit reads no ${ENV}
        web, found = WEB.read(doc, doc.data, _WebFile)
    problems.extend(found)
    tls = None if web is None else web.tls_server_config
    context = None
    if tls is not None and not problems:
        try:
            context = _context(tls, path.parent)
        except (OSError, ssl.SSLError, ValueError) as exc:
            reason = (
                getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
            )
            msg = f"cannot load the TLS certificate, key or CA: {reason}"
            problems.append(doc.problem(("tls_server_config",), msg))
    if problems or web is None:
        raise ConfigError(by_line(problems))
    return WebConfig(
        str(path),
        context,
        web.basic_auth_users,
        web.http_server_config.headers,
        None if tls is None else tls.client_allowed_sans,
        web.rate_limit.interval,
        web.rate_limit.burst,
    )


def _context(tls: _Tls, base: FsPath) -> ssl.SSLContext:
    """Build the server's SSLContext as ``ConfigToTLSConfig`` builds Go's tls.Config."""

    def file_of(name: str) -> str:
        return "" if not name else str(name if os.path.isabs(name) else base / name)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version, ctx.maximum_version = tls.min_version, tls.max_version
    if tls.cipher_suites:
        ctx.set_ciphers(":".join(tls.cipher_suites))
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.curve_preferences:
        ctx.set_ecdh_curve(tls.curve_preferences)
    _load_pair(ctx, file_of(tls.cert_file), tls.cert, file_of(tls.key_file), tls.key)
    ctx.verify_mode = tls.client_auth_type
    if tls.client_ca_file:
        ctx.load_verify_locations(cafile=file_of(tls.client_ca_file))
    elif tls.client_ca:
        ctx.load_verify_locations(cadata=tls.client_ca)
    elif tls.client_auth_type != ssl.CERT_NONE:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # Go: nil ClientCAs, system roots
    return ctx


def _load_pair(ctx: ssl.SSLContext, cert_file: str, cert: str, key_file: str, key: str) -> None:
    """``load_cert_chain`` takes files only: inline PEM goes through a private temporary file."""
    with contextlib.ExitStack() as stack:
        files = []
        for name, text in ((cert_file, cert), (key_file, key)):
            if name:
                files.append(name)
                continue
            tmp = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".pem"))
            tmp.write(text)
            tmp.flush()
            files.append(tmp.name)
        ctx.load_cert_chain(files[0], files[1])


class WebState:
    """The web config in force; the listener's TLS follows it for every new connection."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self._tls = config.ssl is not None

    def apply(self, new: WebConfig) -> None:
        """Use ``new`` from now on; TLS cannot be switched on or off without a restart."""
        if (new.ssl is not None) != self._tls:
            log.warning("config.restart_needed", section="web_config_file tls_server_config")
            new = replace(new, ssl=self.config.ssl)
        self.config = new

    def listening_context(self) -> ssl.SSLContext | None:
        """The SSLContext to listen with (None: plain HTTP); it delegates to the current one."""
        return _Delegating(self) if self._tls else None


class _Delegating(ssl.SSLContext):
    """An SSLContext whose every new TLS session uses the web config's current context.

    asyncio wraps each accepted connection with ``wrap_bio``; delegating it is Python's
    equivalent of exporter-toolkit's ``GetConfigForClient`` (a fresh tls.Config per handshake).
    """

    _state: WebState

    def __new__(cls, state: WebState) -> _Delegating:
        self = super().__new__(cls, ssl.PROTOCOL_TLS_SERVER)
        self._state = state
        return self

    def __init__(self, state: WebState) -> None:
        # ssl.SSLContext.__init__ takes the protocol; everything happens in __new__.
        pass

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        """Wrap with the current context."""
        current = self._state.config.ssl
        assert current is not None
        return current.wrap_bio(*args, **kwargs)
