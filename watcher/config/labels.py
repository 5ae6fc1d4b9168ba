"""Labels and label matchers in the config: ``labels:`` mappings, ``matchers:`` and ``match:``.

Label names follow Prometheus (``watcher.names``); matchers are Alertmanager's
(``watcher.matchers``), in both spellings its configuration takes: ``matchers:`` strings and the
deprecated ``match:`` / ``match_re:`` mappings. Each bad item is a problem at its key or index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from watcher.config.context import string
from watcher.matchers import Matcher, parse_matcher, parse_matchers
from watcher.names import LABEL_NAME
from watcher.validate import Hook, Invalid, each, expected, refuse


def _label(name: str, raw: Any) -> str:
    if not LABEL_NAME.match(name) or name.startswith("__"):
        msg = f'invalid label name "{name}"'
        raise Invalid(msg)
    return string(raw)


def labels(value: Any) -> dict[str, str]:
    """A mapping of label names to string values."""
    if not isinstance(value, Mapping):
        raise expected("a mapping of labels", value)
    values, problems = each(value, _label)
    refuse(problems, "labels")
    return dict(zip((str(k) for k in value), values, strict=True))


def source_labels(value: Any) -> dict[str, str]:
    """A source's ``labels``: ``source`` is not one of them, watcher sets it."""
    out = labels(value)
    if "source" in out:
        raise Invalid('label "source" is set by watcher', ("source",))
    return out


def _matchers(_i: int, item: Any) -> list[Matcher]:
    if not isinstance(item, str):
        raise expected("a matcher string", item)
    return parse_matchers(item) if "," in item or "{" in item else [parse_matcher(item)]


def matchers(value: Any) -> tuple[Matcher, ...]:
    """Alertmanager ``matchers:`` strings, each possibly holding several comma-separated."""
    if not isinstance(value, list):
        raise expected("a list", value)
    found, problems = each(value, _matchers)
    refuse(problems, "matchers")
    return tuple(m for group in found for m in group)


def legacy_match(op: str) -> Hook:
    """Alertmanager's deprecated ``match:`` (``=``) / ``match_re:`` (``=~``) mappings."""

    def read(value: Any) -> tuple[Matcher, ...]:
        if not isinstance(value, Mapping):
            raise expected("a mapping", value)
        found, problems = each(value, lambda name, raw: Matcher.make(name, op, str(raw)))
        refuse(problems, "match")
        return tuple(found)

    return Hook(read)


Labels = Annotated[Mapping[str, str], Hook(labels)]
SourceLabels = Annotated[Mapping[str, str], Hook(source_labels)]
Matchers = Annotated[tuple[Matcher, ...], Hook(matchers)]
