"""Documentation links: every relative link in the READMEs and docs/ resolves in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e import ROOT

#: Markdown files whose links must resolve: the README, the chart's, the rules', and docs/.
DOCS = sorted(
    {
        ROOT / "README.md",
        ROOT / "rules" / "README.md",
        *ROOT.glob("helm/**/README.md"),
        *ROOT.glob("docs/*.md"),
    }
)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_HEADING = re.compile(r"^#+\s+(.*)$", re.MULTILINE)


def links(text: str) -> list[str]:
    """Link targets outside code: inline ``[text](target)`` and reference definitions."""
    prose = _CODE.sub("", _FENCE.sub("", text))
    return [m.group(1) or m.group(2) for m in _LINK.finditer(prose)]


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    prose = _FENCE.sub("", text)
    return {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in _HEADING.findall(prose)
    }


def test_the_documents_exist() -> None:
    """The README, the chart README and the three docs pages are all there to be checked."""
    names = {str(p.relative_to(ROOT)) for p in DOCS}
    assert {
        "README.md",
        "helm/watcher/README.md",
        "docs/product.md",
        "docs/upstream-apis.md",
        "docs/architecture.md",
    } <= names


def broken_links(doc: Path, root: Path) -> list[str]:
    """Relative links of ``doc`` that name nothing inside ``root`` (or a missing heading)."""
    broken = []
    for target in links(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, fragment = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if (
            not resolved.is_relative_to(root)
            or not resolved.exists()
            or (
                fragment
                and resolved.suffix == ".md"
                and fragment not in anchors(resolved.read_text(encoding="utf-8"))
            )
        ):
            broken.append(target)
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    """Each relative link names a file or folder of the repository (and an existing heading
    when it has a #fragment); none points outside it (../shared and the like)."""
    assert [] == broken_links(doc, ROOT)


def test_the_readme_links_each_docs_page() -> None:
    """README.md links the product contract, the upstream notes and the architecture page."""
    found = set(links((ROOT / "README.md").read_text(encoding="utf-8")))
    assert {"docs/product.md", "docs/upstream-apis.md", "docs/architecture.md"} <= found


def test_a_link_out_of_the_repository_is_caught(tmp_path: Path) -> None:
    """The checker flags a link leaving the repository, a missing file and a missing heading,
    and ignores links inside code."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (tmp_path / "shared.md").write_text("# outside\n")
    (repo / "docs" / "a.md").write_text("# A\n## Config file\n")
    readme = repo / "README.md"
    readme.write_text(
        "[ok](docs/a.md#config-file) [out](../shared.md) [gone](docs/b.md) "
        "[heading](docs/a.md#nope) [web](https://example.com/x) `[code](nope.md)`\n"
        "```\n[fenced](nope.md)\n```\n"
    )
    assert ["../shared.md", "docs/b.md", "docs/a.md#nope"] == broken_links(readme, repo)


ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: A module as the architecture page writes it: ``watcher/a/b.py``, ``a/b.py``, ``b.py`` or a
#: package ``a/`` (its ``__init__.py``).
_MODULE = re.compile(r"(?:[a-z0-9_]+/)+(?:[a-z0-9_]+\.py)?|[a-z0-9_]+\.py")
#: Module-like words in the diagram (not the tail of a URL path such as ``/api/v1/``).
_DIAGRAM_MODULE = re.compile(rf"(?<![\w/.-])(?:{_MODULE.pattern})(?![\w/])")
_ROW_CODE = re.compile(r"`([^`\n]+)`")


def _package_path(name: str) -> str:
    """``a/b.py`` and ``watcher/a/b.py`` as a path from the root (packages as ``__init__.py``);
    ``tests/``, ``bench/`` and ``scripts/`` paths are the repository's own."""
    repo = name.startswith(("watcher/", "tests/", "bench/", "scripts/"))
    path = name if repo else f"watcher/{name}"
    return f"{path}__init__.py" if path.endswith("/") else path


def table_modules(text: str) -> tuple[set[str], list[str]]:
    """The modules the page's table names, read as its rows say, and the bare names that follow
    no directory in their row (an error of the page)."""
    named: set[str] = set()
    orphans: list[str] = []
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        here: str | None = None  # the directory named last in this row
        for token in _ROW_CODE.findall(line):
            if not _MODULE.fullmatch(token):
                continue
            if "/" in token:
                path = _package_path(token)
            elif here is None:
                orphans.append(token)
                continue
            else:
                path = here + token
            here = path.rsplit("/", 1)[0] + "/"
            named.add(path)
    return named, orphans


def named_anywhere(text: str) -> tuple[set[str], set[str]]:
    """Module paths (``a/b.py``, packages) and bare module names (``b.py``) named anywhere on
    the page: in code spans and in the diagram."""
    fences = [m.group(0) for m in _FENCE.finditer(text)]
    words = [t for t in _ROW_CODE.findall(_FENCE.sub("", text)) if _MODULE.fullmatch(t)]
    words += [w for fence in fences for w in _DIAGRAM_MODULE.findall(fence)]
    return {_package_path(w) for w in words if "/" in w}, {w for w in words if "/" not in w}


def watcher_modules(root: Path) -> set[str]:
    """Every module of the ``watcher`` package, as a path from ``root``."""
    return {str(p.relative_to(root)) for p in (root / "watcher").rglob("*.py")}


def test_every_module_the_architecture_page_names_exists() -> None:
    """Each module path on docs/architecture.md (table, prose and diagram) is a file of the
    repository, each bare name is some module's name, and no row starts with a bare name."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    modules = watcher_modules(ROOT)
    paths, bare = named_anywhere(text)
    table, orphans = table_modules(text)
    assert [] == orphans
    assert [] == sorted(p for p in paths | table if not (ROOT / p).is_file())
    assert set() == bare - {m.rsplit("/", 1)[1] for m in modules}


def test_the_architecture_table_names_every_module() -> None:
    """Every module under watcher/ is named by a row of the module table, so a moved or new
    module fails here until the page says who owns it."""
    table, _ = table_modules(ARCHITECTURE.read_text(encoding="utf-8"))
    assert set() == watcher_modules(ROOT) - table


def test_the_module_table_reader_follows_each_row(tmp_path: Path) -> None:
    """A bare name is in the directory named last in its row, ``a/b.py`` is under watcher/, a
    package names its ``__init__.py``; a bare name first in a row is reported."""
    page = (
        "| routing | `watcher/notify/` (the package), `router.py`, `config/route.py` and"
        " `load.py`; `sources[].push` |\n"
        "| bad | `orphan.py`, `watcher/app.py` |\n"
        "`prose.py` in prose is no row\n"
    )
    assert (
        {
            "watcher/notify/__init__.py",
            "watcher/notify/router.py",
            "watcher/config/route.py",
            "watcher/config/load.py",
            "watcher/app.py",
        },
        ["orphan.py"],
    ) == table_modules(page)
    fence = "```text\n  server/: /metrics (metrics.py) /api/v1/ history/disk.py\n```\n"
    assert ({"watcher/server/__init__.py", "watcher/history/disk.py"}, {"metrics.py"}) == (
        named_anywhere(fence)
    )
