"""``opsgenie_configs[]``: what an entry takes from ``global:``, and its ``config.original``.

Keys, defaults and checks are Alertmanager 0.25's (``config/notifiers.go``
``DefaultOpsGenieConfig``, ``OpsGenieConfig.UnmarshalYAML``, and the global fill-in of
``config.go``; https://prometheus.io/docs/alerting/latest/configuration/#opsgenie_config),
written once on ``OpsgenieConfig``: ``api_key`` / ``api_key_file`` default to
``global.opsgenie_api_key[_file]``, ``api_url`` to ``global.opsgenie_api_url`` (a ``/`` is
appended when missing); a responder needs an ``id``, ``name`` or ``username`` and a ``type``
of ``team``, ``teams``, ``user``, ``escalation`` or ``schedule`` (or a template).
"""

from __future__ import annotations

from typing import Any

from watcher.config.amchecks import checked, global_config
from watcher.config.amhooks import as_text, responder_type
from watcher.config.model import OpsgenieConfig, OpsgenieResponder
from watcher.validate import FilePair, Invalid, Schema


def _check(value: dict[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    problems = []
    g = global_config()
    key = value.get("api_key")
    if isinstance(key, FilePair) and key.inline is None and key.file is None:
        if g.opsgenie_api_key is not None:
            value["api_key"] = g.opsgenie_api_key
        else:
            problems.append(Invalid("no global OpsGenie API Key set either inline or in a file"))
            value["api_key"] = "-"  # stands in while the rest is checked
    value.setdefault("api_url", g.opsgenie_api_url)
    return value, problems


def _check_responder(value: dict[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    problems = []
    text = {k: as_text(value.get(k)) for k in ("id", "name", "username", "type")}
    if not (text["id"] or text["name"] or text["username"]):
        problems.append(Invalid("a responder has to have at least one of id, username or name"))
    if not responder_type(text["type"]):
        msg = f'expected team, teams, user, escalation or schedule, got "{text["type"]}"'
        problems.append(Invalid(msg, ("type",)))
    return value, problems


def register(schema: Schema) -> None:
    """Add Opsgenie's checks to ``schema``."""
    checked(schema, OpsgenieConfig, _check)
    checked(schema, OpsgenieResponder, _check_responder)


def opsgenie_original(c: OpsgenieConfig, secret: str, http: dict[str, object]) -> dict[str, object]:
    """The entry as Alertmanager YAML for ``config.original``: the key as ``<secret>``."""
    out: dict[str, object] = {"send_resolved": c.send_resolved, **http, "api_key": secret}
    out["api_url"] = c.api_url
    for key in ("message", "description", "source"):
        out[key] = getattr(c, key)
    if c.details:
        out["details"] = dict(c.details)
    if c.responders:
        out["responders"] = [
            {k: v for k in ("id", "name", "username", "type") if (v := getattr(x, k))}
            for x in c.responders
        ]
    out.update(
        {k: v for k in ("entity", "actions", "tags", "note", "priority") if (v := getattr(c, k))}
    )
    if c.update_alerts:
        out["update_alerts"] = True
    return out
