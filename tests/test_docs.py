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
