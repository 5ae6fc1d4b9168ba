"""What receiver entries take from ``global:``, and checks that report with every other problem.

A receiver's ``before`` check (``checked``) may fill in a key from ``global:`` (``GLOBAL``
holds it during a load) and refuse what spans several keys: its problems are reported
together with every problem of the rest of the entry, as Alertmanager's loader words them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from watcher.config.model import GlobalConfig
from watcher.validate import FilePair, Invalid, Schema

#: ``global:`` of the load in progress (its receiver keys: ``RECEIVER_KEYS``).
GLOBAL: ContextVar[GlobalConfig] = ContextVar("receiver_global")
#: The ``global:`` keys receivers take when an entry gives none.
RECEIVER_KEYS = tuple(
    f.name
    for f in dataclasses.fields(GlobalConfig)
    if f.name == "http_config"
    or f.name.startswith(("slack_", "pagerduty_", "opsgenie_", "telegram_", "smtp_"))
)
_DEFAULT = GlobalConfig()
# Classes whose check is being skipped: the rest of their entry is being checked.
_QUIET: ContextVar[frozenset[type]] = ContextVar("quiet_checks", default=frozenset())

#: ``(the entry's mapping) -> (the mapping to build, the problems of it)``.
Check = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Invalid]]]


def global_config() -> GlobalConfig:
    """The ``global:`` of the load in progress (the defaults outside one)."""
    return GLOBAL.get(_DEFAULT)


def checked(schema: Schema, cls: type, check: Check) -> None:
    """Run ``check`` on each ``cls`` mapping before it is built.

    When it finds problems, the mapping it returns (with stand-ins for the keys it refused) is
    built without it, so that every other problem of the entry is reported with them.
    """

    def before(value: Any, _raw: Any) -> Any:
        if cls in _QUIET.get():
            return value
        out, problems = check(dict(value))
        if not problems:
            return out
        errors: list[Exception] = list(problems)
        token = _QUIET.set(_QUIET.get() | {cls})
        try:
            schema.structure(_unfold(out), cls)
        except Exception as exc:
            errors.append(exc)
        finally:
            _QUIET.reset(token)
        raise ExceptionGroup(cls.__name__, errors)

    schema.before(cls, before)


def _unfold(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` as the file wrote it: a ``FilePair`` back to ``key`` and ``key_file``."""
    out = {}
    for key, item in value.items():
        if not isinstance(item, FilePair):
            out[key] = item
            continue
        if item.inline is not None:
            out[key] = item.inline
        if item.file is not None:
            out[f"{key}_file"] = item.file
    return out
