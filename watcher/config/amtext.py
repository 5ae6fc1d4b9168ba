"""Reading the templated keys of Alertmanager receivers, each parsed at load.

Shared by the PagerDuty, Opsgenie and Microsoft Teams readers: a template Go's parser rejects
is a config problem at the key (``file:line receivers[0].pagerduty_configs[0].description:
template: :1: unexpected EOF``), so ``watcher check`` exits 1 on it, as for Slack.
"""

from __future__ import annotations

from collections.abc import Mapping

from watcher.config.model import Secret
from watcher.config.reader import Reader
from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import check_text
from watcher.yamlpos import Path


class TextReader:
    """Template strings read from ``r`` and checked against ``templates``."""

    def __init__(self, r: Reader, templates: Templates) -> None:
        self.r = r
        self.templates = templates

    def text(self, path: Path, default: str = "") -> str:
        """A template string (``${ENV}`` is not expanded: it is template text)."""
        value = self.r.string(path, None, expand=False)
        if value is None:
            return default
        text = str(value)
        problem = check_text(self.templates, text)
        if problem is not None:
            self.r.problem(path, problem)
        return text

    def text_map(self, path: Path) -> dict[str, str]:
        """A mapping of names to template strings (``details:``)."""
        raw = self.r.get(path)
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.r.problem(path, "expected a mapping of names to template strings")
            return {}
        return {str(k): self.text((*path, str(k))) for k in raw}

    def check_secret(self, path: Path, secret: Secret | None) -> None:
        """Alertmanager renders keys as templates: check one parses, never quoting it."""
        if secret is not None and "{{" in secret.get():
            problem = check_text(self.templates, secret.get())
            if problem is not None:
                self.r.problem(path, "does not parse as a template (value not shown: a secret)")


def url_problem(r: Reader, path: Path, url: str) -> None:
    """Report ``url`` unless it is an http(s) URL (Alertmanager's ``config.URL`` check)."""
    if url and not url.startswith(("http://", "https://")):
        r.problem(path, f'expected an http(s) URL, got "{url[:80]}"')
