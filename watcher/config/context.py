"""What a config hook knows of the load in progress, and the text every string hook starts from.

``CONTEXT`` carries the environment (for ``${ENV}``), the config's folder (for ``*_file``), the
notification templates (the ``global`` defaults receivers take: ``watcher.config.amchecks``); ``string`` is a scalar read as text
with ``${ENV}`` expanded, the leaf the other hooks (``watcher.config.scalars``) build on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from watcher.gotemplate import Templates
from watcher.gotemplate.alertmanager import load_templates
from watcher.validate import Invalid, expected

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Context:
    """What hooks need from the load in progress."""

    env: Mapping[str, str]
    base_dir: FsPath
    templates: Templates = field(default_factory=load_templates)


CONTEXT: ContextVar[Context] = ContextVar("config_context")


@contextmanager
def loading(context: Context) -> Iterator[None]:
    """Run the hooks inside with ``context`` (a load in progress), restoring the one before."""
    token = CONTEXT.set(context)
    try:
        yield
    finally:
        CONTEXT.reset(token)


def expand(text: str) -> str:
    """Replace ``${VAR}`` with the environment's value; an unset variable is refused."""
    if "${" not in text:
        return text
    env = CONTEXT.get().env
    missing = [name for name in _ENV.findall(text) if name not in env]
    if missing:
        msg = f"environment variable {missing[0]} is not set"
        raise Invalid(msg)
    return _ENV.sub(lambda m: env[m.group(1)], text)


def plain_text(value: Any) -> str:
    """A scalar as text, unexpanded (a template keeps its ``${...}``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise expected("a string", value)
    return value if isinstance(value, str) else str(value)


def string(value: Any) -> str:
    """A string (a number is read as its text), ``${ENV}`` expanded."""
    return expand(plain_text(value))
