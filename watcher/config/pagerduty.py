"""``pagerduty_configs[]``: Alertmanager's PagerDuty keys and defaults, templates parsed at load.

Keys, defaults and checks are Alertmanager 0.25's (``config/notifiers.go``
``DefaultPagerdutyConfig``, ``PagerdutyConfig.UnmarshalYAML``;
https://prometheus.io/docs/alerting/latest/configuration/#pagerduty_config): ``routing_key``
(Events API v2) or ``service_key`` (the older v1 API), each also as ``*_file``; ``details``
keeps Alertmanager's four default entries unless a key of the same name replaces one;
``source`` defaults to ``client``; ``url`` defaults to ``global.pagerduty_url``.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.config.amtext import TextReader, url_problem
from watcher.config.model import (
    PAGERDUTY_DETAILS,
    PAGERDUTY_URL,
    HttpConfig,
    PagerdutyConfig,
    PagerdutyImage,
    PagerdutyLink,
)
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.yamlpos import Path

#: Events API v1, where Alertmanager 0.25 sends every ``service_key`` event.
V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
GLOBAL_KEYS = frozenset({"pagerduty_url"})

_TEXT_KEYS = ("client", "client_url", "description", "source", "severity", "class", "component")
_KEYS = {
    *_TEXT_KEYS,
    "group",
    "routing_key",
    "routing_key_file",
    "service_key",
    "service_key_file",
    "url",
    "details",
    "images",
    "links",
    "send_resolved",
    "http_config",
}


def read_pagerduty_global(r: Reader) -> str:
    """``global.pagerduty_url``."""
    url = str(r.string(("global", "pagerduty_url"), PAGERDUTY_URL))
    url_problem(r, ("global", "pagerduty_url"), url)
    return url


def read_pagerduty(
    r: Reader,
    p: Path,
    templates: Templates,
    http: Callable[[Path], HttpConfig],
    global_url: str,
) -> PagerdutyConfig | None:
    """One ``pagerduty_configs[]`` entry, or None when it has problems (reported on ``r``)."""
    if not r.mapping(p, _KEYS, required=True):
        return None
    t = TextReader(r, templates)
    has = {k: r.get((*p, k)) is not None for k in sorted(_KEYS)}
    routing = r.secret(p, "routing_key", required=False)
    service = r.secret(p, "service_key", required=False)
    if not any(
        has[k] for k in ("routing_key", "routing_key_file", "service_key", "service_key_file")
    ):
        r.problem(p, "missing service or routing key in PagerDuty config")
    t.check_secret((*p, "routing_key"), routing)
    t.check_secret((*p, "service_key"), service)
    defaults = PagerdutyConfig()
    url = str(r.string((*p, "url"), global_url))
    url_problem(r, (*p, "url"), url)
    client = t.text((*p, "client"), defaults.client)
    details = dict(PAGERDUTY_DETAILS)
    details.update(t.text_map((*p, "details")))
    cfg = PagerdutyConfig(
        routing_key=routing,
        service_key=service,
        url=url,
        url_set=has["url"],
        client=client,
        client_url=t.text((*p, "client_url"), defaults.client_url),
        description=t.text((*p, "description"), defaults.description),
        details=details,
        images=r.each((*p, "images"), lambda q: _image(t, q)),
        links=r.each((*p, "links"), lambda q: _link(t, q)),
        source=t.text((*p, "source")) or client,
        severity=t.text((*p, "severity")),
        class_=t.text((*p, "class")),
        component=t.text((*p, "component")),
        group=t.text((*p, "group")),
        send_resolved=r.boolean((*p, "send_resolved"), True),
        http=http((*p, "http_config")),
    )
    return cfg if routing is not None or service is not None else None


def _image(t: TextReader, p: Path) -> PagerdutyImage | None:
    if not t.r.mapping(p, {"src", "alt", "href"}, required=True):
        return None
    return PagerdutyImage(
        src=t.text((*p, "src")), alt=t.text((*p, "alt")), href=t.text((*p, "href"))
    )


def _link(t: TextReader, p: Path) -> PagerdutyLink | None:
    if not t.r.mapping(p, {"href", "text"}, required=True):
        return None
    return PagerdutyLink(href=t.text((*p, "href")), text=t.text((*p, "text")))


def pagerduty_original(
    c: PagerdutyConfig, secret: str, http: dict[str, object]
) -> dict[str, object]:
    """The entry as Alertmanager YAML for ``config.original``: keys as ``<secret>``."""
    out: dict[str, object] = {"send_resolved": c.send_resolved, **http}
    if c.routing_key is not None:
        out["routing_key"] = secret
    if c.service_key is not None:
        out["service_key"] = secret
    out["url"] = c.url
    defaults = PagerdutyConfig()
    for key in ("client", "client_url", "description"):
        out[key] = getattr(c, key) or getattr(defaults, key)
    out["details"] = dict(c.details)
    if c.images:
        out["images"] = [
            {k: v for k in ("src", "alt", "href") if (v := getattr(i, k))} for i in c.images
        ]
    if c.links:
        out["links"] = [{k: v for k in ("href", "text") if (v := getattr(x, k))} for x in c.links]
    out["source"] = c.source
    optional = {"severity": c.severity, "class": c.class_, "component": c.component}
    out.update({k: v for k, v in {**optional, "group": c.group}.items() if v})
    return out
