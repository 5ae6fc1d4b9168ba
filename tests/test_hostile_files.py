"""Hostile files: alias bombs and secret files matched by a glob get one-line errors, no echo."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Writer
from watcher.commands import check
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.rules import load_rule_files

SECRET = "hunter2-9f8e7d6c5b4a"


def billion_laughs(levels: int = 9) -> str:
    """Ten aliases per level: 10**levels nodes once expanded, a few hundred bytes on disk."""
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        text += f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
    return text


def test_config_alias_bomb_is_refused_quickly(write: Writer) -> None:
    """A "billion laughs" config is refused with one line, in well under a second."""
    path = write("w.yaml", billion_laughs())
    started = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert time.perf_counter() - started < 1.0
    assert [f"{path}:1: invalid YAML: aliases expand to more than 200000 nodes"] == (
        err.value.problems
    )


def test_rule_file_alias_bomb_is_refused(write: Writer) -> None:
    """The same bomb as a rule file is a one-line error naming the file."""
    path = write("rules/bomb.yaml", billion_laughs())
    with pytest.raises(ConfigError) as err:
        load_rule_files([path])
    assert [f"{path}:1: invalid YAML: aliases expand to more than 200000 nodes"] == (
        err.value.problems
    )


def test_deeply_nested_yaml_is_one_line(write: Writer) -> None:
    """A 100k-deep flow sequence is "nesting too deep", not a RecursionError traceback."""
    path = write("w.yaml", "[" * 100_000)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert [f"{path}:1: invalid YAML: nesting too deep"] == err.value.problems


def test_ordinary_aliases_still_load(write: Writer) -> None:
    """Aliases a person writes (a shared label set) load as before."""
    path = write(
        "w.yaml",
        "global: {external_labels: &l {team: growth}}\nstorage: {path: ':memory:'}\nx-shared: *l\n",
    )
    with pytest.raises(ConfigError) as err:  # x-shared is an unknown key, reported by name
        load_config(path)
    assert any("x-shared" in p for p in err.value.problems)
    assert not any("aliases expand" in p for p in err.value.problems)


@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET}\n",
        f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n",
        "12345678901234567890\n",
        f"[{SECRET}]\n",
    ],
    ids=["token", "pem", "number", "list"],
)
def test_rule_glob_matching_a_secret_never_prints_it(
    write: Writer, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    """`rule_files: [secrets/*]` matching a secret file names the file, never its text."""
    secret_file = write("secrets/token", content)
    config = write("w.yaml", "storage: {path: ':memory:'}\nrule_files: ['secrets/*']\n")
    assert 1 == check(str(config))
    _, err = capsys.readouterr()
    assert str(secret_file) in err
    assert "expected a rule file (a mapping with groups)" in err
    assert SECRET not in err
    assert "1234567890" not in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00" + SECRET.encode(), "is not UTF-8 text (byte 0)"),
        (b"x" * (64 * 1024 + 1), "is larger than 65536 bytes"),
    ],
    ids=["binary", "huge"],
)
def test_bad_secret_file_is_one_line_without_its_content(
    write: Writer, content: bytes, problem: str
) -> None:
    """A binary or oversized `*_file` secret is a one-line problem naming the key, no traceback."""
    secret = write.root / "secret"
    secret.write_bytes(content)
    path = write(
        "w.yaml",
        "storage: {path: ':memory:'}\nsources:\n"
        f"  - {{name: c, type: coinw_mega_coupon, api_key: k, secret_key_file: {secret}}}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    [line] = err.value.problems
    assert line == f"{path}:3 sources[0].secret_key_file: secret file {secret} {problem}"
    assert SECRET not in line


def test_config_or_web_config_that_is_a_secret_is_not_echoed(write: Writer) -> None:
    """`-c` or `web_config_file` pointed at a token file: the error names its shape, not its text."""
    from watcher.webconfig import load_web_config

    secret = write("token", f"{SECRET}\n")
    for load in (load_config, load_web_config):
        with pytest.raises(ConfigError) as err:
            load(secret)
        assert [f"{secret}:1: expected a mapping, got a scalar"] == err.value.problems
