"""Every relative link in the README and docs/ resolves: the file exists, and so does the
anchor, computed as GitHub computes heading anchors.

The docs were split out of one README into several files that link to each other by
section; a section renamed or moved must not leave a dead link behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a `# comment` in a shell block is no heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        name, n = base, 0
        while name in found:  # a repeated heading gets -1, -2, ...
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def dead_links(path: Path) -> list[str]:
    dead = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked here (nothing may leave the machine)
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                dead.append(f"{target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                dead.append(f"{target}: no such section")
    return dead


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert dead_links(path) == []


def test_the_docs_are_there() -> None:
    names = {p.name for p in DOCS}
    assert names >= {
        "README.md", "cli.md", "slack.md", "operating.md", "expiry.md", "architecture.md",
        "performance.md",
    }  # fmt: skip


def test_the_checker_finds_a_dead_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    other = tmp_path / "other.md"
    other.write_text("# Other\n\n## The record: `certops db`\n\n```sh\n# not a heading\n```\n")
    page.write_text(
        "[ok](other.md#the-record-certops-db) [top](#a-page) [bad](other.md#not-a-heading)\n"
        "[gone](missing.md) [web](https://example.com/x)\n\n# A page\n"
    )
    assert dead_links(page) == [
        "other.md#not-a-heading: no such section",
        "missing.md: no such file",
    ]


def test_every_make_target_the_docs_name_exists() -> None:
    """`make run`, `make test` (which .ci/run calls), `make bench`...: each is a target."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))
    named = {t for p in DOCS for t in re.findall(r"`make ([a-z][\w-]*)`", p.read_text())}
    named |= set(re.findall(r"^make ([a-z][\w-]*)", (ROOT / "README.md").read_text(), re.M))
    assert {"run", "test", "bench"} <= named
    assert named <= targets, sorted(named - targets)
