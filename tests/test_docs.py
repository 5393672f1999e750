"""The documentation holds together: every relative link in the README and the pages under
docs/ reaches a file, every #anchor a heading of its page, every page is in mkdocs.yml's nav,
MkDocs builds the site in strict mode, and the README stays a front door."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from conftest import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"
MKDOCS_YML = REPO / "mkdocs.yml"
README_MAX_LINES = 280

FENCE = re.compile(r"^\s*(```|~~~)")
ATX_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
SETEXT_UNDERLINE = re.compile(r"^(=+|-+)\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
NUMBERED_ID = re.compile(r"^(.*)_([0-9]+)$")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks ('' for the lines inside, so numbers stay)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return lines


def slugify(heading: str) -> str:
    """A heading's anchor as MkDocs' toc extension makes it (markdown.extensions.toc.slugify
    of the heading's text): ASCII only, punctuation but '-' and '_' dropped, lower case,
    runs of spaces and hyphens one hyphen."""
    text = CODE_SPAN.sub(lambda m: m.group(2).strip(), heading)  # `code` -> code
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) -> text
    text = re.sub(r"(\*{1,3})(\S.*?\S|\S)\1", r"\2", text)  # **bold**, *em* -> their text
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on a page; a repeated one gets _1, _2, ... as toc's unique()."""
    found: set[str] = set()
    lines = _prose_lines(page.read_text(encoding="utf-8"))
    for number, line in enumerate(lines):
        atx = ATX_HEADING.match(line)
        previous = lines[number - 1].strip() if number else ""
        if atx:
            text = atx.group(2)
        elif (
            SETEXT_UNDERLINE.match(line)
            and previous
            and not previous.startswith(("#", "|", "-", "*", ">"))
        ):
            text = previous
        else:
            continue
        slug = slugify(text)
        while slug in found or not slug:
            numbered = NUMBERED_ID.match(slug)
            slug = f"{numbered.group(1)}_{int(numbered.group(2)) + 1}" if numbered else f"{slug}_1"
        found.add(slug)
    return found


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every inline link, image and link definition outside code."""
    found = []
    for number, line in enumerate(_prose_lines(page.read_text(encoding="utf-8")), start=1):
        # A code span is not a link, but a link's text may be code: keep the span's place.
        prose = CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)
        found += [(number, target) for target in INLINE_LINK.findall(prose)]
        definition = LINK_DEFINITION.match(prose)
        if definition:
            found.append((number, definition.group(1)))
    return found


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def broken_links(page: Path, within: Path | None = None) -> list[str]:
    """What is wrong with each relative link of a page, one message per link: the file, the
    line, the link, and the missing file or anchor. External links (a scheme: https:, mailto:)
    are not followed. With `within`, a link must stay inside that directory (MkDocs' docs_dir:
    a page cannot link to a file the site does not have)."""
    problems = []
    for number, target in links(page):
        where = f"{_shown(page)}:{number}: link {target!r}"
        if not target:
            problems.append(f"{where}: the link is empty")
            continue
        if SCHEME.match(target):
            continue
        if target.startswith("/"):
            problems.append(f"{where}: an absolute link; make it relative to the page")
            continue
        path_part, _, anchor = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        linked = (page.parent / path_part).resolve() if path_part else page.resolve()
        if within is not None and not linked.is_relative_to(within.resolve()):
            problems.append(f"{where}: leaves {_shown(within)}/, which the site is built from")
            continue
        if not linked.exists():
            problems.append(f"{where}: no file {_shown(linked)}")
            continue
        if not anchor:
            continue
        if linked.suffix != ".md":
            problems.append(f"{where}: #{anchor} in {_shown(linked)}, which has no headings")
        elif unquote(anchor) not in anchors(linked):
            problems.append(f"{where}: no heading in {_shown(linked)} has the anchor #{anchor}")
    return problems


def _nav_pages(nav: object) -> list[str]:
    """The page files mkdocs.yml's nav names, at any depth."""
    if isinstance(nav, str):
        return [] if SCHEME.match(nav) else [nav]
    if isinstance(nav, list):
        return [page for entry in nav for page in _nav_pages(entry)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    raise AssertionError(f"mkdocs.yml: a nav entry that is not a page or a section: {nav!r}")


def _config() -> dict[str, object]:
    config = yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_every_relative_link_reaches_a_file_and_every_anchor_a_heading() -> None:
    problems = broken_links(README)
    for page in _pages():
        problems += broken_links(page, within=DOCS)
    assert problems == [], "broken links:\n" + "\n".join(problems)


def test_the_link_checker_reports_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "other.md").write_text(
        "# The other page\n\n## A `code` part: done!\n\n## Again\n## Again\n"
    )
    page = docs / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md), [fine too](other.md#a-code-part-done), [two](other.md#again_1),\n"
        "[here](#page), [the web](https://example.com/nowhere.md#x), `[not a link](nowhere.md)`\n"
        "[gone](missing.md) and [no anchor](other.md#nowhere) and [not here](#nothing)\n"
        "[outside](../README.md)\n"
        "```\n[in code](nowhere.md)\n```\n"
    )
    (tmp_path / "README.md").write_text("# Readme\n")
    problems = broken_links(page, within=docs)
    assert len(problems) == 4, problems
    missing_file, missing_anchor, missing_here, outside = problems
    assert f"{page}:5: link 'missing.md': no file {docs / 'missing.md'}" == missing_file
    assert "'other.md#nowhere'" in missing_anchor
    assert f"no heading in {docs / 'other.md'} has the anchor #nowhere" in missing_anchor
    assert f"no heading in {page} has the anchor #nothing" in missing_here
    assert "'../README.md'" in outside and "leaves" in outside
    assert broken_links(tmp_path / "README.md") == []


def test_anchors_are_made_as_mkdocs_makes_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# The DR ladder\n"
        "## At backup_restore\n"
        "## `phases[]`\n"
        "## (b) Inside AWS: EventBridge Scheduler → CodeBuild\n"
        "## Blueprints of your own, beside an environment kept elsewhere\n"
        "## Again\n## Again\n## Again\n"
        "```sh\n# 1. Capture: not a heading\n```\n"
    )
    assert anchors(page) == {
        "the-dr-ladder",
        "at-backup_restore",
        "phases",
        "b-inside-aws-eventbridge-scheduler-codebuild",
        "blueprints-of-your-own-beside-an-environment-kept-elsewhere",
        "again",
        "again_1",
        "again_2",
    }


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    config = _config()
    assert config.get("docs_dir") == "docs"
    nav = _nav_pages(config["nav"])
    assert len(nav) == len(set(nav)), f"mkdocs.yml: a page is in the nav twice: {nav}"
    on_disk = {page.relative_to(DOCS).as_posix() for page in _pages()}
    assert sorted(on_disk - set(nav)) == [], "pages under docs/ missing from mkdocs.yml's nav"
    assert sorted(set(nav) - on_disk) == [], "mkdocs.yml's nav names pages docs/ does not have"
    assert "index.md" in nav


def test_the_site_is_strict_about_links_and_anchors() -> None:
    config = _config()
    assert config.get("strict") is True
    assert config.get("validation") == {
        "omitted_files": "warn",
        "absolute_links": "warn",
        "unrecognized_links": "warn",
        "anchors": "warn",
    }


def test_mkdocs_builds_the_site_in_strict_mode(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install 'mkdocs>=1.6' (in the dev extra)")
    site = tmp_path / "site"
    build = ["build", "--strict", "--config-file", str(MKDOCS_YML), "--site-dir", str(site)]
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", *build],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    assert (site / "index.html").is_file()
    for page in _pages():
        if page.name != "index.md":
            built = site / page.relative_to(DOCS).with_suffix("") / "index.html"
            assert built.is_file(), f"{_shown(page)} was not built"


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    # a collapsed <details> block (the demo's policy JSON) is shown only when asked for
    shown = re.sub(r"<details>.*?</details>\n", "", text, flags=re.S).splitlines()
    assert len(shown) <= README_MAX_LINES, (
        f"README.md shows {len(shown)} lines, at most {README_MAX_LINES}: move a topic to docs/"
    )
    linked = {target.partition("#")[0] for _, target in links(README)}
    unlinked = [
        page.relative_to(REPO).as_posix()
        for page in _pages()
        if page.name != "index.md" and page.relative_to(REPO).as_posix() not in linked
    ]
    assert unlinked == [], "README.md's 'Where to read next' should link every page"
    assert "## Where things live" in lines


def test_every_make_command_a_page_shows_is_a_target() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for page in _pages():
        for target in re.findall(r"^make (\w[\w-]*)", page.read_text(encoding="utf-8"), re.M):
            assert re.search(rf"^{target}:", makefile, re.M), f"make {target} in {_shown(page)}"


DOC_POINTER = re.compile(r"\bdocs/([a-z0-9-]+\.md)(?:#([a-z0-9_-]+))?")


def test_every_page_a_message_points_to_exists() -> None:
    """What relight prints or writes (a note, a captured file's header) may send the reader to
    a page: that page, and its anchor, must exist."""
    import ast

    pointers = []
    for module in sorted((REPO / "src" / "relight").rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                pointers += [(module.name, *m) for m in DOC_POINTER.findall(node.value)]
    assert len(pointers) >= 3, pointers  # the capture header, the DNS note, the latch note
    for module, page, anchor in pointers:
        assert (DOCS / page).is_file(), f"{module} points to docs/{page}, which does not exist"
        if anchor:
            assert anchor in anchors(DOCS / page), f"{module}: docs/{page}#{anchor} is no heading"
