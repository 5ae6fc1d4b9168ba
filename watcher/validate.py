"""One converter from located YAML to frozen dataclasses: every problem, each with its place.

cattrs (https://catt.rs) walks the dataclasses: it structures each field with the hook of its
type, refuses unknown keys (``forbid_extra_keys``) and, with detailed validation, gathers every
failure of a document into one exception group whose notes name the attribute or index of
each. This module turns that group into ``Problem``s with file, line and key path, so config
files, rule files and promtool test files share one way of being read.

A field says what it holds with ``Annotated`` metadata: ``Hook(fn)`` structures it with
``fn(value)`` (a duration, a URL, a choice), ``Key("continue")`` names its key where the
field's name differs. A hook refuses a value by raising ``Invalid``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ForbiddenExtraKeysError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, override

from watcher.yamlpos import Located, Path, Problem

T = TypeVar("T")
R = TypeVar("R")
#: ``(value, the class being built) -> value``: runs on a mapping before or after structuring.
Check = Callable[[Any, Mapping[str, Any]], Any]


class Invalid(ValueError):  # noqa: N818 - a hook's verdict, turned into a Problem
    """A value a hook refuses: ``message`` about the value, or about ``at`` below it.

    ``key`` replaces the last key of the path (a secret read from ``api_key_file`` is
    structured as ``api_key`` but its problem belongs to the key the file was named in);
    ``where`` replaces the whole path (a default taken from ``global``).
    """

    def __init__(
        self, message: str, at: Path = (), *, key: str | None = None, where: Path | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.at, self.key, self.where = message, at, key, where


@dataclass(frozen=True, slots=True)
class Hook:
    """``Annotated`` metadata: structure the field with ``fn(value)``."""

    fn: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class FilePair:
    """A value given as ``key`` inline, as ``key_file`` (a file holding it), both or neither."""

    key: str
    inline: Any = None
    file: Any = None


@dataclass(frozen=True, slots=True)
class Key:
    """``Annotated`` metadata: the field's key in the file (``continue`` for ``continue_``)."""

    name: str


def describe(value: object) -> str:
    """What ``value`` is, for ``expected X, got Y`` messages."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f'"{value}"'
    return f"the value {value}"


def expected(what: str, value: object) -> Invalid:
    """``expected <what>, got <value described>``: the refusal of a value of the wrong kind."""
    return Invalid(f"expected {what}, got {describe(value)}")


def each(
    value: Mapping[Any, Any] | Sequence[Any], fn: Callable[[Any, Any], R]
) -> tuple[list[R], list[Exception]]:
    """``fn(key, item)`` for every item of a mapping (keys as text) or a list (indexes).

    Returns the results and every refusal (``Invalid``, or a parser's ``ValueError``) placed
    below the item's key or index, so one bad item does not hide the next; ``refuse`` raises them.
    """
    pairs = (
        ((str(k), v) for k, v in value.items()) if isinstance(value, Mapping) else enumerate(value)
    )
    out: list[R] = []
    problems: list[Exception] = []
    for at, item in pairs:
        try:
            out.append(fn(at, item))
        except Invalid as exc:
            below = (at if exc.key is None else exc.key, *exc.at)
            problems.append(Invalid(exc.message, below, where=exc.where))
        except ValueError as exc:
            problems.append(Invalid(str(exc), (at,)))
    return out, problems


def refuse(problems: Sequence[Exception], what: str) -> None:
    """Raise ``problems`` (the one, or a group of ``what``'s), when there are any."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ExceptionGroup(what, problems)


def did_you_mean(key: str, allowed: Sequence[str], _cls: type | None = None) -> str:
    """``unknown key (did you mean "interval"?)``, the hint only when one key is close."""
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
    return f'unknown key (did you mean "{close[0]}"?)' if close else "unknown key"


class Schema:
    """A cattrs converter for one kind of file, and the walk from its errors to problems.

    ``scalars`` are the hooks of plain types (``str``, ``int``...): how strict, how expanded.
    ``unknown(key, allowed, cls)`` words the problem of a key no field takes. ``drop_null`` reads
    ``key:`` with no value as an absent key (the field's default), as YAML configs expect.
    A field whose type is ``file_pairs`` may be given as ``key`` or ``key_file``: its hook gets
    a ``FilePair``.
    """

    def __init__(
        self,
        scalars: Mapping[type, Callable[[Any], Any]],
        *,
        unknown: Callable[[str, Sequence[str], type], str] = did_you_mean,
        drop_null: bool = True,
        file_pairs: type | None = None,
        null_is_missing: bool = True,
    ) -> None:
        self.converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
        self.unknown = unknown
        self.drop_null = drop_null
        self.file_pairs = file_pairs
        self.null_is_missing = null_is_missing
        self._nullable: set[type] = set()
        self._fields: dict[tuple[type, str], Callable[[Any], Any]] = {}
        self._keys: dict[type, dict[str, str]] = {}
        self._before: dict[type, list[Check]] = {}
        self._after: dict[type, Check] = {}
        self._extra_keys: dict[type, tuple[str, ...]] = {}
        for kind, fn in scalars.items():  # the class table: it comes before cattrs's own hooks
            self.converter.register_structure_hook(kind, _call(fn))
        factory = self.converter.register_structure_hook_factory
        factory(dataclasses.is_dataclass, self._factory)
        factory(_is_sequence, self._sequence)
        factory(_is_mapping, self._mapping)

    def hook(self, kind: Any, fn: Callable[[Any], Any]) -> None:
        """Structure ``kind`` values (exactly: not its subclasses) with ``fn``."""
        self.converter.register_structure_hook_func(lambda t: t == kind, _call(fn))

    def before(self, cls: type, fn: Check, *, keys: Sequence[str] = ()) -> None:
        """Run ``fn(mapping, mapping)`` on ``cls``'s mapping first (after the ``before`` checks
        added earlier); the mapping may hold ``keys`` too."""
        self._before.setdefault(cls, []).append(fn)
        self._extra_keys[cls] = (*self._extra_keys.get(cls, ()), *keys)

    def after(self, cls: type, fn: Check) -> None:
        """Run ``fn(built, mapping)`` on each ``cls`` (or subclass) built; it returns the value."""
        self._after[cls] = fn

    def field(self, cls: type, name: str, fn: Callable[[Any], Any]) -> None:
        """Structure ``cls``'s field ``name`` with ``fn`` (a hook its type does not name)."""
        self._fields[cls, name] = fn

    def nullable(self, cls: type) -> None:
        """Read a ``cls`` given as nothing (``- ``) as ``cls()``, not as missing."""
        self._nullable.add(cls)

    def keys(self, cls: type) -> list[str]:
        """The keys ``cls`` takes in a file."""
        self.converter.get_structure_hook(cls)
        return [*self._keys[cls].values(), *self._extra_keys.get(cls, ())]

    def structure(self, value: Any, kind: Any) -> Any:
        """Build ``kind`` from ``value`` inside a hook (errors go up to the caller's walk)."""
        return self.converter.structure(value, kind)

    def read(
        self, doc: Located, value: Any, kind: type[T], path: Path = ()
    ) -> tuple[T | None, list[Problem]]:
        """(``kind`` built from ``value`` found at ``path``, or None; every problem of it).

        An unknown key does not hide the rest: the value is built again without the unknown
        keys, so a typo still lets every other check run (and the value be used).
        """
        try:
            return self.converter.structure(value, kind), []
        except Exception as exc:
            problems: list[Problem] = []
            unknown: list[Path] = []
            self._walk(doc, exc, path, problems, unknown)
            if not unknown:
                return None, problems
        pruned = _without(value, [p[len(path) :] for p in unknown])
        try:
            return self.converter.structure(pruned, kind), problems
        except Exception as exc:
            again: list[Problem] = []
            self._walk(doc, exc, path, again, [])
            return None, [*problems, *(p for p in again if p not in problems)]

    def _walk(
        self, doc: Located, exc: BaseException, path: Path, out: list[Problem], unknown: list[Path]
    ) -> None:
        if isinstance(exc, cattrs.ClassValidationError):
            with_notes, without = exc.group_exceptions()
            keys = self._keys.get(exc.cl, {})
            for sub, note in with_notes:
                self._walk(doc, sub, (*path, keys.get(note.name, note.name)), out, unknown)
            for sub in without:
                self._walk(doc, sub, path, out, unknown)
        elif isinstance(exc, cattrs.IterableValidationError):
            items, rest = exc.group_exceptions()
            for sub, item in items:
                self._walk(doc, sub, (*path, item.index), out, unknown)
            for sub in rest:
                self._walk(doc, sub, path, out, unknown)
        elif isinstance(exc, ForbiddenExtraKeysError):
            allowed = self.keys(exc.cl)
            for key in sorted(exc.extra_fields, key=str):
                out.append(doc.problem((*path, str(key)), self.unknown(str(key), allowed, exc.cl)))
                unknown.append((*path, key))
        elif isinstance(exc, Invalid):
            where = (*path[:-1], exc.key) if exc.key is not None and path else path
            if exc.where is not None:
                where = exc.where
            out.append(doc.problem((*where, *exc.at), exc.message))
        elif isinstance(exc, KeyError):
            out.append(doc.problem(path, "is required"))  # cattrs: a field without a default
        elif isinstance(exc, ExceptionGroup):
            for sub in exc.exceptions:
                self._walk(doc, sub, path, out, unknown)
        else:
            raise exc

    def _factory(self, cls: type) -> Callable[[Any, Any], Any]:
        hints = typing.get_type_hints(cls, include_extras=True)
        keys: dict[str, str] = {}
        pairs: dict[str, bool] = {}  # file-pair keys: whether required
        overrides = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            key, fn = f.name, None
            hint = hints[f.name]
            base = typing.get_args(hint)[0] if hasattr(hint, "__metadata__") else hint
            if self.file_pairs is not None and self.file_pairs in _alternatives(base):
                required = f.default is dataclasses.MISSING
                pairs[f.name] = required and f.default_factory is dataclasses.MISSING
            for meta in getattr(hint, "__metadata__", ()):
                if isinstance(meta, Key):
                    key = meta.name
                elif isinstance(meta, Hook):
                    fn = meta.fn
            keys[f.name] = key
            fn = self._fields.get((cls, f.name), fn)
            if fn is not None or key != f.name:
                overrides[f.name] = override(
                    rename=None if key == f.name else key,
                    struct_hook=None if fn is None else _call(fn),
                )
        self._keys[cls] = keys
        if pairs:
            self._extra_keys[cls] = (*self._extra_keys.get(cls, ()), *(f"{k}_file" for k in pairs))
        build: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls,
            self.converter,
            **overrides,  # type: ignore[arg-type]  # per-field overrides share **kwargs
        )
        before = self._before.get(cls, [])
        after = next((self._after[c] for c in cls.__mro__ if c in self._after), None)
        drop_null, nullable = self.drop_null, cls in self._nullable
        null_is_missing, known, extra = self.null_is_missing, set(keys.values()), self._extra_keys

        def structure(value: Any, _type: Any) -> Any:
            if value is None and nullable:
                value = {}
            if not isinstance(value, Mapping):
                missing = value is None and null_is_missing
                raise Invalid("is required") if missing else expected("a mapping", value)
            if drop_null:  # an unknown key stays, null or not: it is refused below
                more = extra.get(cls, ())
                value = {
                    k: v
                    for k, v in value.items()
                    if v is not None or (k not in known and k not in more)
                }
            if pairs:
                value = _fold(value, pairs)
            for check in before:
                value = check(value, value)
            built = build(value, cls)
            return built if after is None else after(built, value)

        return structure

    def _sequence(self, kind: Any) -> Callable[[Any, Any], Any]:
        item = typing.get_args(kind)[0]
        hook = self.converter.get_structure_hook(item)

        def structure(value: Any, _type: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                raise expected("a list", value)
            out, errors = [], []
            for i, element in enumerate(value):
                try:
                    out.append(hook(element, item))
                except Exception as exc:
                    exc.__notes__ = [IterableValidationNote(f"@ index {i}", i, item)]
                    errors.append(exc)
            if errors:
                raise cattrs.IterableValidationError("in a list", errors, kind)
            return tuple(out)

        return structure

    def _mapping(self, kind: Any) -> Callable[[Any, Any], Any]:
        key_type, item = typing.get_args(kind)
        key_hook = self.converter.get_structure_hook(key_type)
        hook = self.converter.get_structure_hook(item)

        def structure(value: Any, _type: Any) -> dict[Any, Any]:
            if not isinstance(value, Mapping):
                raise expected("a mapping", value)
            out, errors = {}, []
            for key, element in value.items():
                try:
                    out[key_hook(key, key_type)] = hook(element, item)
                except Exception as exc:
                    exc.__notes__ = [IterableValidationNote(f"@ key {key}", str(key), item)]
                    errors.append(exc)
            if errors:
                raise cattrs.IterableValidationError("in a mapping", errors, kind)
            return out

        return structure


def _alternatives(kind: Any) -> tuple[Any, ...]:
    """``(A, B)`` for ``A | B``, ``(A,)`` for ``A``."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    return (kind,)


def _without(value: Any, paths: list[Path]) -> Any:
    """A copy of ``value`` without the keys at ``paths``."""
    out = copy.deepcopy(value)
    for path in paths:
        node = out
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
    return out


def _fold(value: Mapping[str, Any], pairs: Mapping[str, bool]) -> dict[str, Any]:
    out = dict(value)
    for key, required in pairs.items():
        inline, file = out.get(key), out.pop(f"{key}_file", None)
        if inline is not None or file is not None or required:
            out[key] = FilePair(key, inline, file)
    return out


def _is_sequence(kind: Any) -> bool:
    args = typing.get_args(kind)
    return typing.get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_mapping(kind: Any) -> bool:
    return typing.get_origin(kind) in (dict, Mapping) and len(typing.get_args(kind)) == 2


def _call(fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda value, _type: fn(value)
