"""Every relative link in README.md, DEVELOPERS.md, CHANGELOG.md and docs/ leads to a file and heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def markdown_files() -> list[Path]:
    named = [ROOT / name for name in ("README.md", "DEVELOPERS.md", "CHANGELOG.md")]
    return [path for path in named if path.exists()] + sorted((ROOT / "docs").rglob("*.md"))


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``: lower case, punctuation dropped, spaces as hyphens."""
    anchors: set[str] = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


def test_the_docs_pages_exist_and_the_readme_links_each():
    readme = (ROOT / "README.md").read_text()
    pages = sorted((ROOT / "docs").rglob("*.md"))
    assert pages
    for page in pages:
        assert f"docs/{page.relative_to(ROOT / 'docs').as_posix()}" in readme, f"README does not link {page}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading) [web](https://example.com)\n"
        "[gone](missing.md) [no heading](there.md#nowhere)\n```\n[in code](ignored.md)\n```\n"
    )
    assert broken_links(page) == ["missing.md (no such file)", "there.md#nowhere (no such heading)"]
