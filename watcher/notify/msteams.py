"""``msteams_configs``: the MessageCard Alertmanager's Microsoft Teams notifier posts.

As ``notify/msteams/msteams.go`` of Alertmanager 0.27 (0.25 has no Teams receiver): an
incoming-webhook ``MessageCard`` with ``title``, ``summary`` and ``text`` rendered from their
templates and ``themeColor`` red (``8C1A1A``) for a firing group, green (``2DC72D``) for a
resolved one, encoded as Go's JSON encoder writes it
(https://learn.microsoft.com/en-us/outlook/actionable-messages/message-card-reference). The
webhook URL is a credential: rows name the target, the URL is looked up when sending. 5xx
and 429 (Teams' rate limit, honouring ``Retry-After``) are retried.
"""

from __future__ import annotations

from watcher.config.model import MsteamsConfig
from watcher.gotemplate import Templates
from watcher.notify.base import HttpNotifier, Payload
from watcher.notify.data import NotificationData
from watcher.notify.gojson import encode
from watcher.notify.templated import renderer

FIRING_COLOR = "8C1A1A"
RESOLVED_COLOR = "2DC72D"


def msteams_card(
    c: MsteamsConfig, data: NotificationData, templates: Templates | None = None
) -> Payload:
    """The MessageCard, in Alertmanager's field order."""
    tmpl = renderer(templates, data, "msteams")
    return {
        "@context": "http://schema.org/extensions",
        "type": "MessageCard",
        "title": tmpl(c.title),
        "summary": tmpl(c.summary),
        "text": tmpl(c.text),
        "themeColor": RESOLVED_COLOR if data.status == "resolved" else FIRING_COLOR,
    }


class MsteamsNotifier(HttpNotifier[MsteamsConfig]):
    """POSTs the card to the incoming-webhook URL."""

    name = "msteams"

    def render(self, data: NotificationData) -> Payload:
        """The card."""
        return msteams_card(self._config, data, self._templates)

    async def deliver(self, payload: Payload, now: float) -> None:
        """POST it."""
        await self._post(self._config.webhook_url.get(), encode(payload), now)
