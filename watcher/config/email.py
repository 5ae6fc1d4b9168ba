"""``email_configs[]`` and the ``global.smtp_*`` defaults, as Alertmanager reads them.

Keys, defaults and checks follow Alertmanager 0.25 (``config/notifiers.go`` ``EmailConfig``,
``config/config.go``): ``to`` is required; ``from``, ``smarthost``, ``hello``, ``auth_*`` and
``require_tls`` fall back to ``global.smtp_from`` and friends (``smtp_hello`` defaults to
``localhost``, ``smtp_require_tls`` to true); header names are canonical MIME keys
(``subject`` is ``Subject``) and a duplicate is an error; ``Subject``, ``To`` and ``From``
headers default to the subject template and the ``to``/``from`` values. Every templated key
is parsed at load. Secrets (``auth_password[_file]``, ``auth_secret``) stay ``Secret`` values.
https://prometheus.io/docs/alerting/latest/configuration/#email_config
"""

from __future__ import annotations

from collections.abc import Mapping

from watcher.config.model import EmailConfig, Secret, TlsConfig
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import check_text
from watcher.yamlpos import Path

GLOBAL_KEYS = frozenset(
    {
        "smtp_from",
        "smtp_hello",
        "smtp_smarthost",
        "smtp_auth_username",
        "smtp_auth_password",
        "smtp_auth_password_file",
        "smtp_auth_secret",
        "smtp_auth_identity",
        "smtp_require_tls",
    }
)
_KEYS = {
    "to",
    "from",
    "hello",
    "smarthost",
    "auth_username",
    "auth_password",
    "auth_password_file",
    "auth_secret",
    "auth_identity",
    "headers",
    "html",
    "text",
    "require_tls",
    "tls_config",
    "send_resolved",
}
TLS_KEYS = {
    "ca_file",
    "cert_file",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
}
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")
DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'


def canonical_header(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-type`` is ``Content-Type``."""
    if not name or any(not (c.isascii() and (c.isalnum() or c == "-")) for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def parse_smarthost(text: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port``), as Go's ``net.SplitHostPort`` with a numeric port."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Email:
    def __init__(self, r: Reader, templates: Templates) -> None:
        self.r = r
        self.templates = templates

    def template(self, path: Path, default: str) -> str:
        value = self.r.string(path, default, expand=False)
        text = str(value)
        if value is not default and (problem := check_text(self.templates, text)) is not None:
            self.r.problem(path, problem)
        return text

    def fallback(self, p: Path, key: str, default: str = "") -> str:
        """``key`` of the entry, else ``global.smtp_<key>``, else ``default``."""
        own = self.r.string((*p, key), "")
        return str(own or self.r.string(("global", f"smtp_{key}"), default))

    def secret(self, p: Path, key: str) -> Secret | None:
        has_own = self.r.get((*p, key)) is not None or self.r.get((*p, f"{key}_file")) is not None
        return self.r.secret(p if has_own else ("global",), key if has_own else f"smtp_{key}",
                             required=False)  # fmt: skip

    def headers(self, p: Path) -> dict[str, str]:
        raw = self.r.get(p)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.r.problem(p, "expected a mapping of header names to templates")
            return {}
        out: dict[str, str] = {}
        for key in raw:
            name = canonical_header(str(key))
            if name in out:
                self.r.problem((*p, str(key)), f'duplicate header "{name}" in email config')
                continue
            out[name] = self.template((*p, str(key)), "")
        return out

    def tls(self, p: Path) -> TlsConfig:
        r = self.r
        if not r.mapping(p, TLS_KEYS):
            return TlsConfig()
        files = {}
        for key in ("ca_file", "cert_file", "key_file"):
            name = str(r.string((*p, key), ""))
            if name and not name.startswith("/"):
                name = str(r.base_dir / name)
            files[key] = name
        if bool(files["cert_file"]) != bool(files["key_file"]):
            r.problem(p, "cert_file and key_file must be given together")
        version = r.string((*p, "min_version"), "")
        if version and version not in TLS_VERSIONS:
            r.problem(
                (*p, "min_version"), f'expected one of {", ".join(TLS_VERSIONS)}, got "{version}"'
            )
        return TlsConfig(
            **files,
            server_name=str(r.string((*p, "server_name"), "")),
            insecure_skip_verify=r.boolean((*p, "insecure_skip_verify"), False),
            min_version=str(version),
        )


def read_email(r: Reader, p: Path, templates: Templates) -> EmailConfig | None:
    """One ``email_configs[]`` entry, or None when it has problems (reported on ``r``)."""
    if not r.mapping(p, _KEYS, required=True):
        return None
    e = _Email(r, templates)
    ok = True
    to = e.template((*p, "to"), "")
    if not to:
        r.problem((*p, "to"), "missing to address in email config")
        ok = False
    sender = e.template((*p, "from"), "") or str(r.string(("global", "smtp_from"), ""))
    if not sender:
        r.problem((*p, "from"), "no global SMTP from set (give from here or global.smtp_from)")
        ok = False
    host_text = e.fallback(p, "smarthost")
    smarthost = parse_smarthost(host_text)
    if not host_text:
        r.problem(
            (*p, "smarthost"),
            "no global SMTP smarthost set (give smarthost or global.smtp_smarthost)",
        )
        ok = False
    elif smarthost is None:
        where = (*p, "smarthost") if r.get((*p, "smarthost")) else ("global", "smtp_smarthost")
        r.problem(where, f'expected host:port like smtp.example.com:587, got "{host_text}"')
        ok = False
    headers = e.headers((*p, "headers"))
    headers.setdefault("Subject", DEFAULT_SUBJECT)
    headers.setdefault("To", to)
    headers.setdefault("From", sender)
    require_tls = r.boolean(("global", "smtp_require_tls"), True)
    cfg = EmailConfig(
        to=to,
        from_=sender,
        smarthost=smarthost or ("", 0),
        hello=e.fallback(p, "hello", "localhost"),
        auth_username=e.fallback(p, "auth_username"),
        auth_password=e.secret(p, "auth_password"),
        auth_secret=e.secret(p, "auth_secret"),
        auth_identity=e.fallback(p, "auth_identity"),
        headers=headers,
        html=e.template((*p, "html"), EmailConfig.html),
        text=e.template((*p, "text"), ""),
        require_tls=r.boolean((*p, "require_tls"), require_tls),
        tls=e.tls((*p, "tls_config")),
        send_resolved=r.boolean((*p, "send_resolved"), False),
    )
    return cfg if ok else None
