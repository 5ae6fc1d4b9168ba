"""``slack_configs[]``: Alertmanager's Slack keys, each template parsed at load.

Keys and defaults are Alertmanager's (https://prometheus.io/docs/alerting/latest/configuration/
#slack_config), written once on ``SlackConfig``. A template that Go's parser rejects is a config
problem naming the key and Go's message (``template: :1: unexpected EOF``), so ``watcher check``
fails on it; here are the checks that span several keys of a field, an action or a confirm.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from watcher.config.amchecks import global_config
from watcher.config.model import SlackAction, SlackConfig, SlackConfirm, SlackField
from watcher.config.scalars import Default, template
from watcher.validate import FilePair, Hook, Invalid, Schema

#: Slack keys that are (templated) text, in Alertmanager's order.
TEXT_KEYS = tuple(
    f.name
    for f in dataclasses.fields(SlackConfig)
    if Hook(template)
    in getattr(typing.get_type_hints(SlackConfig, include_extras=True)[f.name], "__metadata__", ())
)


def _check_field(built: SlackField, _raw: Any) -> SlackField:
    if not built.title or not built.value:
        msg = "a field needs a title and a value"
        raise Invalid(msg)
    return built


def _check_action(built: SlackAction, _raw: Any) -> SlackAction:
    if not built.type or not built.text or not (built.url or built.name):
        msg = "an action needs type, text, and url or name"
        raise Invalid(msg)
    return built


def _check_confirm(built: SlackConfirm, _raw: Any) -> SlackConfirm:
    if not built.text:
        msg = "confirm needs a text"
        raise Invalid(msg)
    return built


def _global_url(value: dict[str, Any], _raw: Any) -> dict[str, Any]:
    """``api_url[_file]``, else ``global.slack_api_url[_file]`` (Alertmanager's default)."""
    given = value.get("api_url")
    shared = global_config().slack_api_url
    if isinstance(given, FilePair) and given.inline is None and given.file is None and shared:
        return {**value, "api_url": Default(shared, ("global", "slack_api_url"))}
    return value


def register(schema: Schema) -> None:
    """Add Slack's checks to ``schema``."""
    schema.before(SlackConfig, _global_url)
    schema.after(SlackField, _check_field)
    schema.after(SlackAction, _check_action)
    schema.after(SlackConfirm, _check_confirm)
