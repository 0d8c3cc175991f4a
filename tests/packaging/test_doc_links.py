"""README.md and docs/*.md hold together: every relative link reaches a file of the repository and
every #anchor a heading of its target (GitHub's slugs), README stays a short newcomer's page, and
the docs state what the code does rather than which issue it came from. External links are not
fetched."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 250

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1)[^\n]|\n(?!\n))+?\1")
# [text](target) and ![alt](target), with an optional "title"; target up to the first space or ).
LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...
ISSUE_REFERENCE = re.compile(r"\bissues? #?\d+", re.IGNORECASE)


def name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def without_code(text: str) -> str:
    """Fenced blocks and code spans blanked out, keeping the line numbers."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text (links as their text, code spans as their
    content), lowercase, punctuation other than - and _ dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's slug; a repeated slug also gets -1, -2, ... as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    text = FENCE.sub("", path.read_text())
    for match in HEADING.finditer(text):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


@dataclass(frozen=True)
class Link:
    page: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{name(self.page)}:{self.line}->{self.target}"


def links() -> list[Link]:
    found = []
    for page in PAGES:
        text = without_code(page.read_text())
        for match in LINK.finditer(text):
            target = match.group(2)
            if not EXTERNAL.match(target):
                line = text.count("\n", 0, match.start()) + 1
                found.append(Link(page, line, target))
    return found


LINKS = links()


def test_the_pages_have_links() -> None:
    assert len(PAGES) > 1, "docs/*.md not found"
    assert LINKS, "no relative links found: the link pattern is broken"


@pytest.mark.parametrize("link", LINKS, ids=str)
def test_a_relative_link_reaches_a_file_and_its_anchor(link: Link) -> None:
    path, _, anchor = link.target.partition("#")
    target = (link.page.parent / path).resolve() if path else link.page
    assert target.is_relative_to(ROOT), f"{link}: leaves the repository"
    assert target.exists(), f"{link}: {path} does not exist"
    if anchor:
        assert target.suffix == ".md", f"{link}: an anchor into a file that is not markdown"
        assert anchor in anchors(target), (
            f"{link}: no heading #{anchor} in {name(target)}; it has {sorted(anchors(target))}"
        )


def test_readme_is_a_short_page() -> None:
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines < README_MAX_LINES, f"README.md has {lines} lines: move reference into docs/"


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_no_issue_numbers(page: Path) -> None:
    found = [
        f"{name(page)}:{number}: {line.strip()}"
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if ISSUE_REFERENCE.search(line)
    ]
    assert not found, "state what the code does, not the issue it came from:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Index row (`image_metadata`, key `id`)", "index-row-image_metadata-key-id"),
        ("HEIC/HEIF", "heicheif"),
        ("Pillow and libvips: who does what, and why", "pillow-and-libvips-who-does-what-and-why"),
        ("With Docker: `docker compose up`", "with-docker-docker-compose-up"),
        ("On an endpoint already running: `ENDPOINT=`", "on-an-endpoint-already-running-endpoint"),
    ],
    ids=["code-spans", "slash", "colon-and-comma", "code-span-at-end", "trailing-equals"],
)
def test_slugs_follow_github(heading: str, expected: str) -> None:
    assert slug(heading) == expected
