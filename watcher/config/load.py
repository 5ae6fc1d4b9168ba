"""Load and validate the config file: every problem at once, each with file, line and key path.

The YAML is parsed once (``watcher.yamlpos``); each section is then built by one converter
(``watcher.config.sections.SCHEMA``) into the model's frozen dataclasses, their defaults the
model's. A list is read item by item, so one bad source still lets the others be checked
against each other (unique names, receivers the route names).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Collection, Mapping
from pathlib import Path as FsPath
from typing import Any, TypeVar

from watcher.config.amchecks import GLOBAL, RECEIVER_KEYS
from watcher.config.ha import read_ha
from watcher.config.model import (
    CoinwCouponConfig,
    Config,
    GlobalConfig,
    HaConfig,
    InhibitRule,
    ReceiverConfig,
    RouteConfig,
    SourceConfig,
)
from watcher.config.push import check_one_push_per_key
from watcher.config.route import RouteReader
from watcher.config.scalars import CONTEXT, Context
from watcher.config.sections import SCHEMA, NamedIntervals, parse_listen
from watcher.errors import ConfigError
from watcher.gotemplate.alertmanager import load_templates
from watcher.timeinterval import TimeInterval
from watcher.validate import did_you_mean
from watcher.yamlpos import Located, Path, Problem, by_line, load_mapping, read_text

__all__ = ["load_config", "parse_config", "parse_listen"]

T = TypeVar("T")
# CoinW allows one almightyGoldInfo request per 2 s per user and IP
# (docs/upstream-apis.md, from the endpoint's "Frequency Limit").
COUPON_MIN_REQUEST_SPACING = 2.0
#: Fields of ``Config`` the loader fills in itself: they are not keys of the file.
_NOT_IN_FILE = frozenset({"file", "warnings"})
#: Fields read from keys of another name: ``global`` is a Python keyword, and
#: ``mute_time_intervals`` (Alertmanager's older name) shares ``time_intervals``' namespace.
_FILE_KEYS = {"global_": ("global",), "time_intervals": ("time_intervals", "mute_time_intervals")}
_FIELDS = dataclasses.fields(Config)
_HINTS = typing.get_type_hints(Config)
#: The top-level keys of the file, from ``Config``'s fields: a new field is a known key.
TOP_KEYS = tuple(
    key for f in _FIELDS if f.name not in _NOT_IN_FILE for key in _FILE_KEYS.get(f.name, (f.name,))
)


def load_config(file: str | FsPath, env: Mapping[str, str] | None = None) -> Config:
    """Read ``file``; raise ``ConfigError`` listing every problem, or return the config."""
    path = FsPath(file)
    return parse_config(read_text(path, "config file"), path, env)


def parse_config(text: str, file: FsPath, env: Mapping[str, str] | None = None) -> Config:
    """Validate config ``text`` that came from ``file``."""
    doc, problems = load_mapping(text, str(file))
    data = doc.data
    context = Context(os.environ if env is None else env, FsPath(file).parent)
    token = CONTEXT.set(context)
    try:
        builder = _Builder(doc, data, file, problems)
        cfg = builder.build()
    finally:
        CONTEXT.reset(token)
    # dict: one problem once (a bad global default is met by every entry that takes it)
    problems = list(dict.fromkeys(builder.problems))
    if problems:
        raise ConfigError(by_line(problems))
    return cfg


class _Builder:
    def __init__(
        self, doc: Located, data: Mapping[str, Any], file: FsPath, problems: list[Problem]
    ) -> None:
        self.doc = doc
        self.data = data
        self.file = file
        self.problems = list(problems)

    def section(self, key: str, kind: type[T], default: T) -> T:
        """The top-level ``key`` built as ``kind``; ``default`` when absent or unusable."""
        raw = self.data.get(key)
        if raw is None:
            return default
        value, problems = SCHEMA.read(self.doc, raw, kind, (key,))
        self.problems.extend(problems)
        return default if value is None else value

    def items(self, key: str, kind: type[T]) -> list[tuple[int, T]]:
        """Each usable item of the top-level list ``key``, with its index."""
        raw = self.data.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.section(key, tuple[Any, ...], ())  # words "expected a list"
            return []
        out: list[tuple[int, T]] = []
        for i, item in enumerate(raw):
            value, problems = SCHEMA.read(self.doc, item, kind, (key, i))
            self.problems.extend(problems)
            if value is not None:
                out.append((i, value))
        return out

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def build(self) -> Config:
        for key in self.data:
            if key not in TOP_KEYS:
                self.problem((str(key),), did_you_mean(str(key), TOP_KEYS))
        templates: tuple[str, ...] = self.model_section("templates")
        try:
            loaded = load_templates(templates, self.file.parent)
        except ValueError as exc:
            self.problem(("templates",), str(exc))
        else:
            CONTEXT.set(Context(CONTEXT.get().env, CONTEXT.get().base_dir, loaded))
        intervals = self.time_intervals()
        indexed_sources = self.items("sources", SourceConfig)
        sources = tuple(s for _, s in indexed_sources)
        self.unique("sources", "source name")
        self.problems.extend(check_one_push_per_key(self.doc, indexed_sources))
        global_ = self.global_config()
        token = GLOBAL.set(global_)
        try:
            indexed_receivers = self.items("receivers", ReceiverConfig)
        finally:
            GLOBAL.reset(token)
        route = self.route(self.unique("receivers", "receiver name"), intervals)
        ha, problems = read_ha(
            self.doc,
            self.data.get("ha"),
            route=route,
            receivers=indexed_receivers,
            external_labels=global_.external_labels,
        )
        self.problems.extend(problems)
        built: dict[str, Any] = {
            "file": self.file,
            "global_": global_,
            "sources": sources,
            "route": route,
            "receivers": tuple(r for _, r in indexed_receivers),
            "inhibit_rules": tuple(r for _, r in self.items("inhibit_rules", InhibitRule)),
            "templates": templates,
            "time_intervals": intervals,
            "warnings": tuple(coupon_rate_warnings(self.file, sources, ha)),
            "ha": ha,
        }
        return Config(**built, **self.plain_sections(built))

    def route(self, receivers: Collection[str], intervals: Collection[str]) -> RouteConfig | None:
        """The routing tree, its receivers among ``receivers``, its time ``intervals`` known."""
        if self.data.get("route") is not None:
            reader = RouteReader(self.doc, receivers, intervals)
            route = reader.read(self.data["route"])
            self.problems.extend(reader.problems)
            return route
        if self.data.get("receivers"):
            self.problem(("receivers",), "receivers are configured but there is no route")
        return None

    def plain_sections(self, built: Collection[str]) -> dict[str, Any]:
        """Every field of ``Config`` not in ``built``: a section with no cross-check, read by
        the converter as its type says, or the model's default when absent."""
        return {f.name: self.model_section(f.name) for f in _FIELDS if f.name not in built}

    def model_section(self, name: str) -> Any:
        """The top-level ``name`` built as ``Config``'s field of that name says, or its default."""
        f = next(f for f in _FIELDS if f.name == name)
        return self.section(name, _HINTS[name], _default(f))

    def section_at(
        self, path: Path, kind: type[T], *, keys: Collection[str] | None = None
    ) -> T | None:
        """``kind`` built from the value at ``path`` (only its ``keys``, when given; None when
        absent or unusable)."""
        raw: Any = self.data
        for key in path:
            raw = raw.get(key) if isinstance(raw, Mapping) else None
        if keys is not None:  # a part of a section read on its own: its shape is reported there
            raw = {k: v for k, v in raw.items() if k in keys} if isinstance(raw, Mapping) else None
        if raw is None:
            return None
        value, problems = SCHEMA.read(self.doc, raw, kind, path)
        self.problems.extend(problems)
        return value

    def global_config(self) -> GlobalConfig:
        """``global``; when it has a problem, each key receivers take is read on its own, so
        that one mistake does not add "no global ... set" problems to every receiver."""
        whole = self.section_at(("global",), GlobalConfig)
        if whole is not None or not isinstance(self.data.get("global"), Mapping):
            return whole or GlobalConfig()
        values = {}
        for key in RECEIVER_KEYS:
            one = self.section_at(("global",), GlobalConfig, keys={key, f"{key}_file"})
            if one is not None:
                values[key] = getattr(one, key)
        return GlobalConfig(**values)

    def unique(self, key: str, what: str) -> set[str]:
        """The names of the items of ``key``; a repeated one is a problem.

        Read from the file, not from the built items: an item with a mistake still has its
        name, so a route naming a receiver whose URL is bad gets that one problem, not also
        "undefined receiver" (and a repeated name is reported even when one copy is bad)."""
        seen: set[str] = set()
        raw = self.data.get(key)
        for i, item in enumerate(raw if isinstance(raw, list) else ()):
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                self.problem((key, i, "name"), f'duplicate {what} "{name}"')
            seen.add(name)
        return seen

    def time_intervals(self) -> dict[str, tuple[TimeInterval, ...]]:
        """``time_intervals`` and ``mute_time_intervals``: one namespace, as in Alertmanager."""
        out: dict[str, tuple[TimeInterval, ...]] = {}
        for key in ("time_intervals", "mute_time_intervals"):
            for i, named in self.items(key, NamedIntervals):
                if named.name in out:
                    self.problem((key, i, "name"), f'time interval "{named.name}" is not unique')
                    continue
                out[named.name] = named.time_intervals
        return out


def _default(f: dataclasses.Field[Any]) -> Any:
    """The default of the model's field ``f``."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def coupon_rate_warnings(
    file: FsPath, sources: tuple[SourceConfig, ...], ha: HaConfig | None = None
) -> list[str]:
    """Warn when the statuses of the sources sharing a key cannot be polled every interval
    (by each HA replica, when the replicas split the key's budget between them)."""
    by_key: dict[str, list[CoinwCouponConfig]] = {}
    for s in sources:
        if isinstance(s, CoinwCouponConfig):
            by_key.setdefault(s.api_key.get(), []).append(s)
    warnings: list[str] = []
    for group in by_key.values():
        requests = sum(len(s.statuses) for s in group)
        replicas = ha.replicas if ha is not None and ha.shares else 1
        needed = requests * COUPON_MIN_REQUEST_SPACING * replicas
        split = f", split between {replicas} HA replicas" if replicas > 1 else ""
        warnings.extend(
            f"{file}: source {s.name}: interval {s.interval:g}s cannot be met: "
            f"{requests} almightyGoldInfo requests on this API key need at least "
            f"{needed:g}s at CoinW's limit of 1 request per 2s{split}; polls will take longer"
            for s in group
            if s.interval < needed
        )
    return warnings
