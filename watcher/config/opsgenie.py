"""``opsgenie_configs[]``: Alertmanager's Opsgenie keys and defaults, templates parsed at load.

Keys, defaults and checks are Alertmanager 0.25's (``config/notifiers.go``
``DefaultOpsGenieConfig``, ``OpsGenieConfig.UnmarshalYAML``, and the global fill-in of
``config.go``; https://prometheus.io/docs/alerting/latest/configuration/#opsgenie_config):
``api_key`` / ``api_key_file`` default to ``global.opsgenie_api_key[_file]``, ``api_url`` to
``global.opsgenie_api_url`` (a ``/`` is appended when missing); a responder needs an ``id``,
``name`` or ``username`` and a ``type`` of ``team``, ``teams``, ``user``, ``escalation`` or
``schedule`` (or a template).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from watcher.config.amtext import TextReader, url_problem
from watcher.config.model import (
    OPSGENIE_API_URL,
    HttpConfig,
    OpsgenieConfig,
    OpsgenieResponder,
    Secret,
)
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.yamlpos import Path

GLOBAL_KEYS = frozenset({"opsgenie_api_url", "opsgenie_api_key", "opsgenie_api_key_file"})
_TYPES = re.compile(r"^(team|teams|user|escalation|schedule)$")
_TEXT_KEYS = ("message", "description", "source", "entity", "actions", "tags", "note", "priority")
_KEYS = {
    *_TEXT_KEYS,
    "api_key",
    "api_key_file",
    "api_url",
    "details",
    "responders",
    "update_alerts",
    "send_resolved",
    "http_config",
}


@dataclass(frozen=True)
class OpsgenieGlobal:
    """``global.opsgenie_api_url`` and ``global.opsgenie_api_key[_file]``."""

    api_url: str
    api_key: Secret | None


def read_opsgenie_global(r: Reader) -> OpsgenieGlobal:
    """The global Opsgenie keys (a key file is read once, here)."""
    p = ("global", "opsgenie_api_url")
    url = str(r.string(p, OPSGENIE_API_URL))
    url_problem(r, p, url)
    key = r.secret(("global",), "opsgenie_api_key", required=False)
    return OpsgenieGlobal(url, key)


def read_opsgenie(
    r: Reader,
    p: Path,
    templates: Templates,
    http: Callable[[Path], HttpConfig],
    globals_: OpsgenieGlobal,
) -> OpsgenieConfig | None:
    """One ``opsgenie_configs[]`` entry, or None when it has problems (reported on ``r``)."""
    if not r.mapping(p, _KEYS, required=True):
        return None
    t = TextReader(r, templates)
    key = r.secret(p, "api_key", required=False)
    if key is None and r.get((*p, "api_key_file")) is None:
        key = globals_.api_key
        if key is None:
            r.problem(p, "no global OpsGenie API Key set either inline or in a file")
    t.check_secret((*p, "api_key"), key)
    url = str(r.string((*p, "api_url"), globals_.api_url))
    url_problem(r, (*p, "api_url"), url)
    defaults = OpsgenieConfig(api_key=Secret(""))
    texts = {k: t.text((*p, k), getattr(defaults, k)) for k in _TEXT_KEYS}
    cfg = OpsgenieConfig(
        api_key=key or Secret(""),
        api_url=url if url.endswith("/") else url + "/",
        details=t.text_map((*p, "details")),
        responders=r.each((*p, "responders"), lambda q: _responder(t, q)),
        update_alerts=r.boolean((*p, "update_alerts"), False),
        send_resolved=r.boolean((*p, "send_resolved"), True),
        http=http((*p, "http_config")),
        **texts,
    )
    return cfg if key is not None else None


def _responder(t: TextReader, p: Path) -> OpsgenieResponder | None:
    if not t.r.mapping(p, {"id", "name", "username", "type"}, required=True):
        return None
    responder = OpsgenieResponder(
        id=t.text((*p, "id")),
        name=t.text((*p, "name")),
        username=t.text((*p, "username")),
        type=t.text((*p, "type")),
    )
    if not (responder.id or responder.name or responder.username):
        t.r.problem(p, "a responder has to have at least one of id, username or name")
    # Alertmanager 0.25 checks the lower-cased type but sends the type as written.
    if "{{" not in responder.type and not _TYPES.match(responder.type.lower()):
        t.r.problem(
            (*p, "type"),
            f'expected team, teams, user, escalation or schedule, got "{responder.type}"',
        )
    return responder


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
