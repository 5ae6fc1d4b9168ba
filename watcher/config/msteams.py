"""``msteams_configs[]``: Alertmanager's Microsoft Teams keys and defaults, parsed at load.

Alertmanager 0.25 (the Debian package this project compares against) has no Teams receiver;
it arrived in 0.26, and 0.27 added ``summary`` and ``webhook_url_file``. The keys, defaults
and checks are 0.27's (``config/notifiers.go`` ``DefaultMSTeamsConfig``,
``MSTeamsConfig.UnmarshalYAML``; https://prometheus.io/docs/alerting/latest/configuration/
#msteams_config): ``webhook_url`` or ``webhook_url_file`` (a secret), ``title``, ``summary``,
``text``, ``send_resolved`` (default true), ``http_config``.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.config.amtext import TextReader
from watcher.config.model import HttpConfig, MsteamsConfig, Secret
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.yamlpos import Path

_KEYS = {
    "webhook_url",
    "webhook_url_file",
    "title",
    "summary",
    "text",
    "send_resolved",
    "http_config",
}


def read_msteams(
    r: Reader, p: Path, templates: Templates, http: Callable[[Path], HttpConfig]
) -> MsteamsConfig | None:
    """One ``msteams_configs[]`` entry, or None when it has problems (reported on ``r``)."""
    if not r.mapping(p, _KEYS, required=True):
        return None
    t = TextReader(r, templates)
    url = r.secret(p, "webhook_url")
    if url is not None and not url.get().startswith(("http://", "https://")):
        r.problem((*p, "webhook_url"), "expected an http(s) URL (value not shown: it is a secret)")
    defaults = MsteamsConfig(webhook_url=Secret(""))
    cfg = MsteamsConfig(
        webhook_url=url or Secret(""),
        title=t.text((*p, "title"), defaults.title),
        summary=t.text((*p, "summary"), defaults.summary),
        text=t.text((*p, "text"), defaults.text),
        send_resolved=r.boolean((*p, "send_resolved"), True),
        http=http((*p, "http_config")),
    )
    return cfg if url is not None else None
