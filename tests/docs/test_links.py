"""Every link in the repository's documentation resolves inside the repository: a reader (or
an auditor with a copy of the repository and no network) is never sent somewhere missing."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def documents():
    return [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md")]


def broken_links(path):
    broken = []
    for target in LINK.findall(path.read_text()):
        target = target.split("#", 1)[0]
        if not target:  # a link within the page
            continue
        if "://" in target or not (path.parent / target).exists():
            broken.append(target)
    return broken


def test_every_documentation_link_resolves_inside_the_repository():
    assert len(documents()) >= 5
    assert {str(p.relative_to(ROOT)): broken_links(p) for p in documents()} == {
        str(p.relative_to(ROOT)): [] for p in documents()
    }


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[here](missing.md) [there](https://example.org) [self](#top)")
    assert broken_links(page) == ["missing.md", "https://example.org"]
