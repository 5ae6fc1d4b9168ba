"""``slack_configs[]``: Alertmanager's Slack keys, each template parsed at load.

Keys and defaults are Alertmanager's (https://prometheus.io/docs/alerting/latest/configuration/
#slack_config). A template that Go's parser rejects is a config problem naming the key and
Go's message (``template: :1: unexpected EOF``), so ``watcher check`` fails on it.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.config.model import (
    HttpConfig,
    Secret,
    SlackAction,
    SlackConfig,
    SlackConfirm,
    SlackField,
)
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import check_text
from watcher.yamlpos import Path

#: Slack keys that are (templated) text, in Alertmanager's order.
TEXT_KEYS = (
    "channel",
    "username",
    "icon_emoji",
    "icon_url",
    "title",
    "title_link",
    "pretext",
    "text",
    "fallback",
    "callback_id",
    "footer",
    "color",
    "image_url",
    "thumb_url",
)
_KEYS = {
    *TEXT_KEYS,
    "api_url",
    "api_url_file",
    "send_resolved",
    "timeout",
    "http_config",
    "link_names",
    "mrkdwn_in",
    "short_fields",
    "fields",
    "actions",
}
_ACTION_KEYS = ("type", "text", "url", "style", "name", "value")
_CONFIRM_KEYS = ("text", "title", "ok_text", "dismiss_text")


class _Slack:
    def __init__(self, r: Reader, templates: Templates) -> None:
        self.r = r
        self.templates = templates

    def text(self, path: Path, default: str | None) -> str | None:
        value = self.r.string(path, default, expand=False)
        if isinstance(value, str) and value is not default:
            problem = check_text(self.templates, value)
            if problem is not None:
                self.r.problem(path, problem)
        return value if isinstance(value, str) or value is None else str(value)

    def field(self, p: Path) -> SlackField | None:
        if not self.r.mapping(p, {"title", "value", "short"}, required=True):
            return None
        title, value = self.text((*p, "title"), ""), self.text((*p, "value"), "")
        if not title or not value:
            self.r.problem(p, "a field needs a title and a value")
            return None
        short = self.r.get((*p, "short"))
        return SlackField(
            title=title,
            value=value,
            short=None if short is None else self.r.boolean((*p, "short"), False),
        )

    def action(self, p: Path) -> SlackAction | None:
        if not self.r.mapping(p, {*_ACTION_KEYS, "confirm"}, required=True):
            return None
        texts = {k: self.text((*p, k), "") or "" for k in _ACTION_KEYS}
        if not texts["type"] or not texts["text"] or not (texts["url"] or texts["name"]):
            self.r.problem(p, "an action needs type, text, and url or name")
        confirm = None
        if self.r.get((*p, "confirm")) is not None:
            cp = (*p, "confirm")
            if self.r.mapping(cp, set(_CONFIRM_KEYS)):
                confirm = SlackConfirm(**{k: self.text((*cp, k), "") or "" for k in _CONFIRM_KEYS})
            if confirm is not None and not confirm.text:
                self.r.problem(cp, "confirm needs a text")
        return SlackAction(**texts, confirm=confirm)


#: ``global:`` keys: the webhook URL every ``slack_configs`` entry without its own uses.
GLOBAL_KEYS = frozenset({"slack_api_url", "slack_api_url_file"})


def _api_url(r: Reader, p: Path) -> Secret | None:
    """``api_url[_file]``, else ``global.slack_api_url[_file]`` (Alertmanager's default)."""
    own = r.get((*p, "api_url")) is not None or r.get((*p, "api_url_file")) is not None
    shared = ("global",)
    if own or (
        r.get((*shared, "slack_api_url")) is None and r.get((*shared, "slack_api_url_file")) is None
    ):
        return r.secret(p, "api_url")
    return r.secret(shared, "slack_api_url")


def read_slack(
    r: Reader, p: Path, templates: Templates, http: Callable[[Path], HttpConfig]
) -> SlackConfig | None:
    """One ``slack_configs[]`` entry, or None when it has problems (reported on ``r``)."""
    if not r.mapping(p, _KEYS, required=True):
        return None
    url = _api_url(r, p)
    s = _Slack(r, templates)
    defaults = SlackConfig(api_url=Secret(""))
    texts = {k: s.text((*p, k), getattr(defaults, k)) for k in TEXT_KEYS}
    cfg = SlackConfig(
        api_url=url or Secret(""),
        **texts,  # type: ignore[arg-type]
        link_names=r.boolean((*p, "link_names"), False),
        mrkdwn_in=r.str_list((*p, "mrkdwn_in")),
        short_fields=r.boolean((*p, "short_fields"), False),
        fields=r.each((*p, "fields"), s.field),
        actions=r.each((*p, "actions"), s.action),
        send_resolved=r.boolean((*p, "send_resolved"), False),
        timeout=r.duration((*p, "timeout"), 0.0, positive=False),
        http=http((*p, "http_config")),
    )
    if url is not None and not url.get().startswith(("http://", "https://")):
        where = (*p, "api_url") if r.has((*p, "api_url")) else ("global", "slack_api_url")
        r.problem(where, "expected an http(s) URL (value not shown: it is a secret)")
    return cfg if url is not None else None
