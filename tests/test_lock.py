"""The lock files: every dependency pinned (with hashes), the image's pins the tested ones."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.e2e import ROOT

REGENERATE = "pyproject.toml changed: run `bash scripts/lock` and commit both lock files"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    """``{canonical name: version}`` of a lock file."""
    text = (ROOT / name).read_text(encoding="utf-8")
    return {canonicalize_name(m.group(1)): m.group(2) for m in _PIN.finditer(text)}


def requirements(*, dev: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = project["dependencies"] + (project["optional-dependencies"]["dev"] if dev else [])
    return [Requirement(r) for r in listed]


def unmet(reqs: list[Requirement], locked: dict[str, str]) -> list[str]:
    """Requirements the lock does not pin, or pins outside their specifier."""
    out = []
    for req in reqs:
        version = locked.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            out.append(f"{req} (locked: {version})")
    return out


def test_every_dependency_and_dev_tool_is_pinned_where_ci_installs_it() -> None:
    """requirements-dev.lock (scripts/install-deps) pins each dependency and dev extra of
    pyproject.toml within its specifier."""
    assert [] == unmet(requirements(dev=True), pins("requirements-dev.lock")), REGENERATE


def test_the_image_pins_the_tested_versions_and_nothing_else() -> None:
    """requirements.lock (the Dockerfile) pins each runtime dependency at the version CI tests
    with, and no test tool."""
    runtime, tested = pins("requirements.lock"), pins("requirements-dev.lock")
    assert [] == unmet(requirements(dev=False), runtime), REGENERATE
    assert {n: tested.get(n) for n in runtime} == runtime, REGENERATE
    assert set() == set(runtime) & {"pytest", "mypy", "ruff", "aioresponses"}


def test_every_pin_carries_a_hash() -> None:
    """pip installs the lock files with hash checking: each pin is followed by its sha256s."""
    for name in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / name).read_text(encoding="utf-8")
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[-1])
        missing = [e.split()[0] for e in entries if _PIN.match(e) and "--hash=sha256:" not in e]
        assert [] == missing, name
