"""YAML parsed once (libyaml where available) yet every problem still names its line."""

from __future__ import annotations

import tracemalloc

import pytest
import yaml

from tests.conftest import Writer
from tests.test_hostile_files import billion_laughs
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.yamlpos import load_located

ACCOUNT = '      - {{third_server_code: tsc-{n}, user_name: "{n}", currency: {currency}}}\n'


def big_config(accounts: int, bad: int | None = None) -> str:
    """A TradeBoss source with ``accounts`` accounts; account ``bad`` has an unknown currency."""
    rows = "".join(
        ACCOUNT.format(n=n, currency=[1, 2] if n == bad else "HKD") for n in range(accounts)
    )
    return (
        "sources:\n  - name: wallet\n    type: tradeboss_balance\n"
        "    base_url: https://wallet.example\n    company_id: 1\n"
        f"    headers: {{Authorization: Bearer x}}\n    accounts:\n{rows}"
    )


def test_big_config_error_names_the_line_of_the_bad_account(write: Writer) -> None:
    """In a 2000-account config, a bad value in account 1500 is reported at that line."""
    path = write("w.yaml", big_config(2000, bad=1500))
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    line = 8 + 1500  # seven lines before the first account
    assert [
        f"{path}:{line} sources[0].accounts[1500].currency: expected a string, got a list"
    ] == info.value.problems


def test_big_config_loads_every_account(write: Writer) -> None:
    """A 2000-account config loads all of them, in order."""
    config = load_config(write("w.yaml", big_config(2000)), {})
    accounts = config.sources[0].accounts  # type: ignore[attr-defined]
    assert ["0", "1999"] == [accounts[0].user_name, accounts[-1].user_name]


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000 + "]" * 100_000,
        "a: " + "{a: " * 30_000 + "1" + "}" * 30_000,
        "a:\n" + "- " * 100_000 + "1\n",
    ],
)
def test_deep_nesting_is_one_line_not_a_crash(text: str) -> None:
    """Nesting deep enough to overflow libyaml's recursive composer is refused in one line."""
    assert (None, ["f.yaml:1: invalid YAML: nesting too deep"]) == load_located(text, "f.yaml")


def test_alias_bomb_in_a_big_file_is_refused() -> None:
    """The alias-bomb bound holds for files big enough to take the pre-scan path."""
    text = "pad: [" + ", ".join(["x"] * 10_000) + "]\n" + billion_laughs()
    assert (None, ["f.yaml:1: invalid YAML: aliases expand to more than 200000 nodes"]) == (
        load_located(text, "f.yaml")
    )


@pytest.mark.parametrize("pad", [0, 20_000])
def test_syntax_error_wording_and_line(pad: int) -> None:
    """A syntax error reads as PyYAML's pure-Python parser words it, at the right line."""
    text = "# " + "x" * pad + "\nsources:\n  - {name: a\n    type: b\n"
    doc, problems = load_located(text, "f.yaml")
    assert None is doc
    assert ["f.yaml:4: invalid YAML: expected ',' or '}', but got ':'"] == problems


def test_duplicate_keys_are_reported_with_their_lines() -> None:
    """Duplicate keys at any depth are found in the single parse and named with their lines."""
    text = "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"
    doc, problems = load_located(text, "f.yaml")
    assert ["f.yaml:4 b.c: duplicate key", "f.yaml:5 a: duplicate key"] == problems
    assert doc is not None
    assert {"a": 3, "b": {"c": 2}} == doc.data


def test_same_data_as_safe_load() -> None:
    """Types, merge keys and aliases come out as yaml.safe_load gives them."""
    text = (
        "base: &base {x: 1, y: [a, b]}\nderived:\n  <<: *base\n  z: 0x1f\n"
        "when: 2024-01-02\nf: 1.5e3\nn: ~\nb: yes\ns: '010'\nshared: *base\n"
    )
    doc, problems = load_located(text, "f.yaml")
    assert [] == problems
    assert doc is not None
    assert yaml.safe_load(text) == doc.data


def test_plain_yaml_builds_the_same_data_as_safe_load() -> None:
    """Anchors, aliases, numbers, booleans, nulls and quoting come out as yaml.safe_load's."""
    text = (
        "a: &a {x: 1, y: [0o17, 0x1f, 1_000, -2.5e3, .inf, .nan, ~, null, true, No, 'yes']}\n"
        "b: [*a, *a]\nc: &s scalar\nd: *s\ne: '010'\nf: \"multi\\nline\"\ng: |\n  block\n  text\n"
        "h: 2024-01-02\n1: int key\n"
    )
    doc, problems = load_located(text, "f.yaml")
    assert [] == problems
    assert doc is not None
    assert repr(yaml.safe_load(text)) == repr(doc.data)  # repr: nan != nan


def test_unreadable_scalar_is_one_line_with_its_line() -> None:
    """A value YAML types but cannot build (a 13th month) is one line naming its line."""
    doc, problems = load_located("a: 1\nb: 2024-13-45\n", "f.yaml")
    assert None is doc
    assert ["f.yaml:2: invalid YAML: cannot read '2024-13-45': month must be in 1..12"] == problems


def test_big_config_is_built_without_a_node_tree() -> None:
    """Loading 5000 accounts peaks at a few MB of Python objects, not a ~20 MB node tree."""
    text = big_config(5000)
    tracemalloc.start()
    try:
        doc, problems = load_located(text, "w.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ([], 5000) == (problems, len(doc.data["sources"][0]["accounts"]) if doc else 0)
    assert peak < 6_000_000
