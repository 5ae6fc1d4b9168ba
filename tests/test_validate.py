"""The one converter (``watcher.validate``): what a user reads when a YAML file is wrong.

A small schema of its own, so each test shows one behaviour of the converter itself rather than
of the config, rule or promtool files built on it. The converter has no size or depth bound of
its own: ``watcher.yamlpos`` refuses oversized and too-deep documents before it runs
(tests/test_hostile_files.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest

from watcher.validate import (
    FilePair,
    Hook,
    Invalid,
    Key,
    Schema,
    describe,
    each,
    expected,
    refuse,
)
from watcher.yamlpos import Problem, by_line, load_located


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise expected("a port number", value)
    if not 0 < value < 65536:
        msg = f"must be from 1 to 65535, got {value}"
        raise Invalid(msg)
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise expected("a string", value)
    return value


def _token(value: Any) -> str:
    assert isinstance(value, FilePair)
    if value.inline is not None and value.file is not None:
        msg = f"give either {value.key} or {value.key}_file, not both"
        raise Invalid(msg)
    if value.file is not None:
        if value.file != "token.txt":
            msg = f"cannot read {value.file}"
            raise Invalid(msg, key=f"{value.key}_file")
        return "from-file"
    if value.inline is None:
        raise Invalid("is required")
    return str(value.inline)


class Token(str):
    """A value given as ``token`` or ``token_file`` (the schema's ``file_pairs`` type)."""

    __slots__ = ()


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise expected("a list", value)
    found, problems = each(value, lambda _i, item: _text(item))
    refuse(problems, "tags")
    return tuple(found)


@dataclass(frozen=True, kw_only=True)
class Target:
    host: str
    port: Annotated[int, Hook(_port)] = 80
    tags: Annotated[tuple[str, ...], Hook(_tags)] = ()


@dataclass(frozen=True, kw_only=True)
class Job:
    name: str
    interval: str = "1m"
    continue_: Annotated[bool, Key("continue")] = False
    targets: tuple[Target, ...] = ()
    params: Mapping[str, Target] = field(default_factory=dict)
    token: Token | None = None


@dataclass(frozen=True, kw_only=True)
class File:
    jobs: tuple[Job, ...] = ()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise expected("true or false", value)
    return value


def _schema() -> Schema:
    schema = Schema({str: _text, bool: _bool, Token: _token}, file_pairs=Token)
    schema.after(Target, _localhost_needs_a_port)
    return schema


def _localhost_needs_a_port(target: Target, raw: Mapping[str, Any]) -> Target:
    if target.host == "localhost" and "port" not in raw:
        raise Invalid("localhost needs an explicit port", ("port",))
    return target


SCHEMA = _schema()


def read(text: str, schema: Schema = SCHEMA) -> tuple[File | None, list[Problem]]:
    doc, problems = load_located(text, "f.yaml")
    assert doc is not None
    built, found = schema.read(doc, doc.data, File)
    return built, by_line([*problems, *found])  # as every file built on it reports them


NESTED = (
    "jobs:\n"
    "- name: a\n"
    "  targets:\n"
    "  - host: h1\n"
    "    port: 0\n"
    "  - host: h2\n"
    "    tags: [ok, 5, {x: 1}]\n"
    "- name: b\n"
    "  targets: [{host: h3, port: none}]\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "jobs:\n- name: a\n  intervl: 5m\n  colour: red\n",
            [
                'f.yaml:3 jobs[0].intervl: unknown key (did you mean "interval"?)',
                "f.yaml:4 jobs[0].colour: unknown key",
            ],
            id="an unknown key names the close one, only when one is close",
        ),
        pytest.param(
            "jobs:\n- name: a\n  bogus:\n",
            ["f.yaml:3 jobs[0].bogus: unknown key"],
            id="an unknown key without a value is refused too",
        ),
        pytest.param(
            NESTED,
            [
                "f.yaml:5 jobs[0].targets[0].port: must be from 1 to 65535, got 0",
                "f.yaml:7 jobs[0].targets[1].tags[1]: expected a string, got the value 5",
                "f.yaml:7 jobs[0].targets[1].tags[2]: expected a string, got a mapping",
                'f.yaml:9 jobs[1].targets[0].port: expected a port number, got "none"',
            ],
            id="every item of lists in lists, by index, on its own line",
        ),
        pytest.param(
            "jobs:\n- name: a\n  params:\n    web:\n      host: 5\n",
            ["f.yaml:5 jobs[0].params.web.host: expected a string, got the value 5"],
            id="a dict[str, X] item by its key",
        ),
        pytest.param(
            "jobs:\n- interval: 5m\n- [a]\n- x\n",
            [
                "f.yaml:2 jobs[0].name: is required",
                "f.yaml:3 jobs[1]: expected a mapping, got a list",
                'f.yaml:4 jobs[2]: expected a mapping, got "x"',
            ],
            id="a field without default is required; a wrong shape says what it got",
        ),
        pytest.param(
            "jobs: {name: a}\n",
            ["f.yaml:1 jobs: expected a list, got a mapping"],
            id="a mapping where a list goes",
        ),
        pytest.param(
            "jobs:\n- {name: a, continue: 1}\n- {name: b, continu: true}\n",
            [
                "f.yaml:2 jobs[0].continue: expected true or false, got the value 1",
                'f.yaml:3 jobs[1].continu: unknown key (did you mean "continue"?)',
            ],
            id="a renamed field (Key) is named by its key in the file, in problems and hints",
        ),
        pytest.param(
            "jobs:\n- name: a\n  targets:\n  - host: localhost\n",
            ["f.yaml:4 jobs[0].targets[0].port: localhost needs an explicit port"],
            id="an after hook checks across fields and names the key",
        ),
        pytest.param(
            "jobs:\n- {name: a, token: t, token_file: token.txt}\n",
            ["f.yaml:2 jobs[0].token: give either token or token_file, not both"],
            id="a file pair given twice",
        ),
        pytest.param(
            "jobs:\n- name: a\n  token_file: other.txt\n",
            ["f.yaml:3 jobs[0].token_file: cannot read other.txt"],
            id="a file pair's file problem at the _file key",
        ),
        pytest.param(
            "jobs:\n- {name: a, token_fil: x}\n",
            ['f.yaml:2 jobs[0].token_fil: unknown key (did you mean "token_file"?)'],
            id="a file pair's _file key is a known key",
        ),
    ],
)
def test_each_problem_names_its_line_and_key_path(text: str, expected: list[str]) -> None:
    """Every problem of a document is ``file:line path: message``, in the order of the lines."""
    assert expected == read(text)[1]


def test_a_null_known_key_takes_the_default() -> None:
    """``interval:`` with no value reads as absent: the model's default."""
    built, problems = read("jobs:\n- name: a\n  interval:\n")
    assert [] == problems
    assert built is not None
    assert "1m" == built.jobs[0].interval


def test_a_typo_does_not_hide_the_other_problems_nor_the_value() -> None:
    """With an unknown key, the rest is still checked, and the value is built without the key."""
    built, problems = read("jobs:\n- name: a\n  intervl: 5m\n- name: b\n  interval: 5\n")
    assert [
        'f.yaml:3 jobs[0].intervl: unknown key (did you mean "interval"?)',
        "f.yaml:5 jobs[1].interval: expected a string, got the value 5",
    ] == problems
    assert built is None  # jobs[1] cannot be built

    built, problems = read("jobs:\n- name: a\n  intervl: 5m\n")
    assert built is not None
    assert ("a", "1m") == (built.jobs[0].name, built.jobs[0].interval)


def test_a_renamed_field_and_a_file_pair_are_built() -> None:
    """``continue:`` fills ``continue_``; ``token_file`` the token, read by the pair's hook."""
    built, problems = read("jobs:\n- {name: a, continue: true, token_file: token.txt}\n")
    assert [] == problems
    assert built is not None
    assert (True, "from-file") == (built.jobs[0].continue_, built.jobs[0].token)


def test_an_after_hook_returns_the_value() -> None:
    """What the ``after`` check returns is the value built."""
    built, problems = read("jobs:\n- name: a\n  targets:\n  - {host: localhost, port: 8080}\n")
    assert [] == problems
    assert built is not None
    assert 8080 == built.jobs[0].targets[0].port


def _upper_name(value: Mapping[str, Any], _raw: Any) -> Mapping[str, Any]:
    return {**value, "name": str(value["name"]).upper()} if "name" in value else value


def _legacy_interval(value: Mapping[str, Any], _raw: Any) -> Mapping[str, Any]:
    if "legacy" not in value:
        return value
    rest = {k: v for k, v in value.items() if k != "legacy"}
    return {**rest, "interval": f"{value['legacy']} ({value.get('name')})"}


def test_before_hooks_run_in_order_and_may_take_extra_keys() -> None:
    """``before`` rewrites the mapping first, in the order added; ``keys`` it reads are allowed."""
    schema = _schema()
    schema.before(Job, _upper_name)
    schema.before(Job, _legacy_interval, keys=("legacy",))
    built, problems = read("jobs:\n- {name: a, legacy: 2m}\n", schema)
    assert [] == problems
    assert built is not None
    assert ("A", "2m (A)") == (built.jobs[0].name, built.jobs[0].interval)
    _, problems = read("jobs:\n- {name: a, legacx: 2m}\n", schema)
    assert ['f.yaml:2 jobs[0].legacx: unknown key (did you mean "legacy"?)'] == problems


def test_an_invalid_can_point_elsewhere() -> None:
    """``Invalid(where=...)`` puts the problem where the value came from (a default)."""
    schema = _schema()

    def elsewhere(_value: Any) -> str:
        raise Invalid("bad default", where=("jobs",))

    schema.field(Job, "interval", elsewhere)
    _, problems = read("# the jobs\njobs:\n- name: a\n  interval: y\n", schema)
    assert ["f.yaml:2 jobs: bad default"] == problems  # not jobs[0].interval, line 4


def test_each_reports_every_bad_item_below_its_key() -> None:
    """``each`` goes on after a refusal; a parser's ValueError becomes a problem too."""

    def parse(key: str, raw: Any) -> int:
        if key == "k":
            raise Invalid("no k", ("deeper",))
        return int(raw)

    found, problems = each({"a": "1", "b": "x", "k": 1, 5: "2"}, parse)
    assert [1, 2] == found
    assert [(("b",), "invalid literal for int() with base 10: 'x'"), (("k", "deeper"), "no k")] == [
        (p.at, p.message) for p in problems if isinstance(p, Invalid)
    ]
    with pytest.raises(ExceptionGroup):
        refuse(problems, "items")
    with pytest.raises(Invalid):
        refuse(problems[:1], "items")
    refuse([], "items")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "nothing"),
        (True, "a boolean"),
        ({"a": 1}, "a mapping"),
        ([1], "a list"),
        ("soon", '"soon"'),
        (5, "the value 5"),
        (1.5, "the value 1.5"),
    ],
)
def test_describe_words_what_was_found(value: object, words: str) -> None:
    """``expected X, got Y``: Y is the kind of a structure, a scalar's own text."""
    assert f"expected a port, got {words}" == expected("a port", value).message
    assert words == describe(value)


def test_a_problem_renders_file_line_path_and_message() -> None:
    """``file:line path: message``; the path's indexes in brackets; no path, no space."""
    p = Problem("w.yaml", 14, ("sources", 1, "interval"), 'expected a duration, got "soon"')
    assert 'w.yaml:14 sources[1].interval: expected a duration, got "soon"' == p
    assert ("w.yaml", 14, ("sources", 1, "interval")) == (p.file, p.line, p.path)
    assert "w.yaml:1: expected a mapping, got a list" == Problem(
        "w.yaml", 1, (), "expected a mapping, got a list"
    )


def test_problems_sort_by_line_and_keep_their_order_on_one_line() -> None:
    """``by_line`` orders by line number (not as text: 9 before 10), stable within a line."""
    problems = [
        Problem("f", 10, ("b",), "two"),
        Problem("f", 9, ("z",), "one"),
        Problem("f", 10, ("a",), "three"),
    ]
    assert ["f:9 z: one", "f:10 b: two", "f:10 a: three"] == by_line(problems)
