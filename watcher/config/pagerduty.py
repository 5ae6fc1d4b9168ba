"""``pagerduty_configs[]``: what an entry takes from ``global:``, and its ``config.original``.

Keys, defaults and checks are Alertmanager 0.25's (``config/notifiers.go``
``DefaultPagerdutyConfig``, ``PagerdutyConfig.UnmarshalYAML``;
https://prometheus.io/docs/alerting/latest/configuration/#pagerduty_config), written once on
``PagerdutyConfig``: ``routing_key`` (Events API v2) or ``service_key`` (the older v1 API), each
also as ``*_file``; ``details`` keeps Alertmanager's four default entries unless a key of the
same name replaces one; ``source`` defaults to ``client``; ``url`` to ``global.pagerduty_url``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from watcher.config.amchecks import checked, global_config
from watcher.config.model import PagerdutyConfig
from watcher.validate import Invalid, Schema

#: Events API v1, where Alertmanager 0.25 sends every ``service_key`` event.
V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"


def _check(value: dict[str, Any]) -> tuple[dict[str, Any], list[Invalid]]:
    problems = []
    if "url_set" in value:  # the model's, never a key of the file
        del value["url_set"]
        problems.append(Invalid("unknown key", ("url_set",)))
    value["url_set"] = "url" in value
    value.setdefault("url", global_config().pagerduty_url)
    if "routing_key" not in value and "service_key" not in value:
        problems.append(Invalid("missing service or routing key in PagerDuty config"))
        value["routing_key"] = "-"  # stands in while the rest is checked
    return value, problems


def _source(built: PagerdutyConfig, _raw: Any) -> PagerdutyConfig:
    return built if built.source else replace(built, source=built.client)


def register(schema: Schema) -> None:
    """Add PagerDuty's checks to ``schema``."""
    checked(schema, PagerdutyConfig, _check)
    schema.after(PagerdutyConfig, _source)


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
