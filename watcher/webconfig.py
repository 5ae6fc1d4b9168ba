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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

import structlog

from watcher.config import Secret
from watcher.config.reader import Reader
from watcher.errors import ConfigError
from watcher.yamlpos import Path, load_located

log = structlog.get_logger()

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
#: exporter-toolkit's client_auth_type values, as Python's verify modes; None: not honourable.
CLIENT_AUTH: dict[str, ssl.VerifyMode | None] = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": None,
    "RequireAnyClientCert": None,
    "RequireClientCert": None,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
#: Go's ``tls.CipherSuites()`` names and OpenSSL's for the same suite. TLS 1.3 suites are not
#: configurable in Go either (the list applies "up to TLS 1.2"), so they map to nothing.
CIPHERS = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": "",
    "TLS_AES_256_GCM_SHA384": "",
    "TLS_CHACHA20_POLY1305_SHA256": "",
}
#: exporter-toolkit's curve names; OpenSSL's for those ``set_ecdh_curve`` can pin.
CURVES = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "",
}
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

_TOP = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
_TLS_KEYS = (
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
    "curve_preferences",
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


def load_web_config(file: str | FsPath | None) -> WebConfig:
    """Read a web config file (none: plain HTTP, no auth); raise ConfigError on any problem."""
    if not file:
        return WebConfig()
    path = FsPath(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read web config file: {exc.strerror}"
        raise ConfigError([msg]) from None
    except UnicodeDecodeError:
        msg = f"{path}: the web config file is not UTF-8 text"
        raise ConfigError([msg]) from None
    doc, problems = load_located(text, str(path))
    if doc is None:
        raise ConfigError(problems)
    if doc.data is None:
        doc.data = {}
    r = Reader(doc, env={})
    r.problems.extend(problems)
    if not r.mapping((), _TOP):
        raise ConfigError(r.problems or [f"{path}:1: expected a mapping at the top level"])
    users = _users(r)
    headers = _headers(r)
    interval, burst = 0.0, 0
    if r.mapping(("rate_limit",), ("interval", "burst")):
        interval = r.duration(("rate_limit", "interval"), 0.0, positive=False)
        burst = r.integer(("rate_limit", "burst"), 0, minimum=0)
    tls = ("tls_server_config",)
    sans: tuple[str, ...] | None = None
    context = None
    # exporter-toolkit's TLSConfig.IsEnabled: any of these set means TLS (and must be valid).
    enabled = (
        "cert",
        "key",
        "client_ca",
        "cert_file",
        "key_file",
        "client_ca_file",
        "client_auth_type",
    )
    if r.mapping(tls, _TLS_KEYS) and any(r.get((*tls, k)) for k in enabled):
        if r.get((*tls, "client_allowed_sans")) is not None:
            sans = r.str_list((*tls, "client_allowed_sans"))
        if not r.problems:
            context = _context(r, path.parent)
    if r.problems:
        raise ConfigError(r.problems)
    return WebConfig(str(path), context, users, headers, sans, interval, burst)


def _users(r: Reader) -> dict[str, Secret]:
    p: Path = ("basic_auth_users",)
    raw = r.get(p)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        r.problem(p, "expected a mapping of user names to bcrypt hashes")
        return {}
    users: dict[str, Secret] = {}
    for name in raw:
        value = r.string((*p, str(name)), expand=False)
        m = _BCRYPT.match(str(value))
        if m is None:
            # Never echo the value: it may be a plain password pasted by mistake.
            r.problem((*p, str(name)), "expected a bcrypt hash like $2y$10$... (htpasswd -nBC 10)")
        elif not 4 <= int(m.group(1)) <= 31:
            r.problem((*p, str(name)), f"bcrypt cost {int(m.group(1))} is outside 4..31")
        else:
            users[str(name)] = Secret(str(value))
    return users


def _headers(r: Reader) -> dict[str, str]:
    p: Path = ("http_server_config",)
    if not r.mapping(p, ("http2", "headers")):
        return {}
    r.boolean((*p, "http2"), default=True)
    raw = r.get((*p, "headers"))
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        r.problem((*p, "headers"), "expected a mapping of header names to values")
        return {}
    out: dict[str, str] = {}
    for name in raw:
        value = str(r.string((*p, "headers", str(name)), expand=False))
        if str(name) not in HEADERS:
            r.problem((*p, "headers", str(name)), f'HTTP header "{name}" can not be configured')
            continue
        allowed = HEADERS[str(name)]
        if allowed is not None and value not in allowed:
            r.problem(
                (*p, "headers", str(name)),
                f'invalid value, expected one of {", ".join(allowed)}, got "{value}"',
            )
            continue
        out[str(name)] = value
    return out


def _context(r: Reader, base: FsPath) -> ssl.SSLContext | None:
    """Build the server's SSLContext as ``ConfigToTLSConfig`` builds Go's tls.Config."""
    p: Path = ("tls_server_config",)

    def file_of(key: str) -> str:
        name = str(r.string((*p, key), ""))
        return "" if not name else str(name if os.path.isabs(name) else base / name)

    cert_file, key_file, ca_file = (
        file_of("cert_file"),
        file_of("key_file"),
        file_of("client_ca_file"),
    )
    cert, key = str(r.string((*p, "cert"), "")), str(r.string((*p, "key"), ""))
    ca_text = str(r.string((*p, "client_ca"), ""))
    if not cert_file and not cert:
        r.problem(p, "missing one of cert or cert_file")
    if not key_file and not key:
        r.problem(p, "missing one of key or key_file")
    auth = str(r.string((*p, "client_auth_type"), ""))
    if auth not in CLIENT_AUTH:
        r.problem((*p, "client_auth_type"), f'invalid ClientAuth: "{auth}"')
        return None
    mode = CLIENT_AUTH[auth]
    if mode is None:
        r.problem(
            (*p, "client_auth_type"),
            f"{auth} is not supported: Python's ssl verifies every client certificate it "
            "requests; use VerifyClientCertIfGiven or RequireAndVerifyClientCert",
        )
        return None
    if (ca_file or ca_text) and mode == ssl.CERT_NONE:
        r.problem(p, "client CA's have been configured without a Client Auth Policy")
    versions = [
        _version(r, (*p, k), d) for k, d in (("min_version", "TLS12"), ("max_version", "TLS13"))
    ]
    ciphers = _ciphers(r, (*p, "cipher_suites"))
    curve = _curve(r, (*p, "curve_preferences"))
    if r.problems:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.minimum_version, ctx.maximum_version = versions[0], versions[1]
        if ciphers:
            ctx.set_ciphers(":".join(ciphers))
        if r.boolean((*p, "prefer_server_cipher_suites"), default=True):
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        if curve:
            ctx.set_ecdh_curve(curve)
        _load_pair(ctx, cert_file, cert, key_file, key)
        ctx.verify_mode = mode
        if ca_file:
            ctx.load_verify_locations(cafile=ca_file)
        elif ca_text:
            ctx.load_verify_locations(cadata=ca_text)
        elif mode != ssl.CERT_NONE:
            ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # Go: nil ClientCAs, system roots
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = (
            getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
        )
        r.problem(p, f"cannot load the TLS certificate, key or CA: {reason}")
        return None
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


def _version(r: Reader, path: Path, default: str) -> ssl.TLSVersion:
    name = str(r.string(path, default))
    if name not in TLS_VERSIONS:
        r.problem(path, f'unknown TLS version: "{name}"')
        return TLS_VERSIONS[default]
    return TLS_VERSIONS[name]


def _ciphers(r: Reader, path: Path) -> list[str]:
    out = []
    for i, name in enumerate(r.str_list(path)):
        if name not in CIPHERS:
            r.problem((*path, i), f'unknown cipher: "{name}"')
        elif CIPHERS[name]:
            out.append(CIPHERS[name])
    return out


def _curve(r: Reader, path: Path) -> str:
    names = r.str_list(path)
    for i, name in enumerate(names):
        if name not in CURVES:
            r.problem((*path, i), f'unknown curve: "{name}"')
    if r.problems or not names:
        return ""
    if len(names) > 1 or not CURVES[names[0]]:
        r.problem(
            path,
            "Python's ssl can only pin ECDHE to one NIST curve (CurveP256, CurveP384 or "
            f"CurveP521), not {', '.join(names)}; list one or leave the default",
        )
        return ""
    return CURVES[names[0]]


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
