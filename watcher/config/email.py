"""``email_configs[]`` and the ``global.smtp_*`` defaults, as Alertmanager reads them.

Keys, defaults and checks follow Alertmanager 0.25 (``config/notifiers.go`` ``EmailConfig``,
``config/config.go``), written once on ``EmailConfig``: ``to`` is required; ``from``,
``smarthost``, ``hello``, ``auth_*`` and ``require_tls`` fall back to ``global.smtp_from`` and
friends (``smtp_hello`` defaults to ``localhost``, ``smtp_require_tls`` to true); a duplicate
header is an error; ``Subject``, ``To`` and ``From`` headers default to the subject template
and the ``to``/``from`` values. https://prometheus.io/docs/alerting/latest/configuration/
#email_config
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from watcher.config.amchecks import checked, global_config
from watcher.config.amhooks import as_text, smarthost
from watcher.config.model import EmailConfig, TlsConfig
from watcher.validate import Invalid, Schema

DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
# Keys taken from global.smtp_<key> when the entry leaves them out or empty.
_FALLBACK = ("from", "smarthost", "hello", "auth_username", "auth_identity")


def _check(value: dict[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    problems = []
    g = global_config()
    for key in ("to", *_FALLBACK):
        if value.get(key) == "":
            del value[key]
    if "to" not in value:
        problems.append(Invalid("missing to address in email config", ("to",)))
    if "from" not in value and not g.smtp_from:
        msg = "no global SMTP from set (give from here or global.smtp_from)"
        problems.append(Invalid(msg, ("from",)))
    if "smarthost" not in value:
        if not g.smtp_smarthost:
            msg = "no global SMTP smarthost set (give smarthost or global.smtp_smarthost)"
            problems.append(Invalid(msg, ("smarthost",)))
        else:
            try:
                smarthost(g.smtp_smarthost)
            except Invalid as exc:
                problems.append(Invalid(exc.message, where=("global", "smtp_smarthost")))
            else:
                value["smarthost"] = g.smtp_smarthost
    return value, problems


def _fill(built: EmailConfig, raw: Mapping[str, Any]) -> EmailConfig:
    g = global_config()
    own = raw.__contains__
    cfg = replace(
        built,
        from_=built.from_ or g.smtp_from,
        hello=built.hello if own("hello") else g.smtp_hello,
        auth_username=built.auth_username if own("auth_username") else g.smtp_auth_username,
        auth_password=built.auth_password if own("auth_password") else g.smtp_auth_password,
        auth_secret=built.auth_secret if own("auth_secret") else g.smtp_auth_secret,
        auth_identity=built.auth_identity if own("auth_identity") else g.smtp_auth_identity,
        require_tls=built.require_tls if own("require_tls") else g.smtp_require_tls,
    )
    headers = dict(cfg.headers)
    headers.setdefault("Subject", DEFAULT_SUBJECT)
    headers.setdefault("To", cfg.to)
    headers.setdefault("From", cfg.from_)
    return replace(cfg, headers=headers)


def _check_tls(value: dict[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    if bool(as_text(value.get("cert_file"))) != bool(as_text(value.get("key_file"))):
        return value, [Invalid("cert_file and key_file must be given together")]
    return value, []


def register(schema: Schema) -> None:
    """Add the email checks and global defaults to ``schema``."""
    checked(schema, EmailConfig, _check)
    schema.after(EmailConfig, _fill)
    checked(schema, TlsConfig, _check_tls)
