"""Every relative link and #anchor in README.md and docs/*.md leads to something that exists.

A link is [text](target) or ![alt](target) outside code. A target with a scheme (https:, mailto:)
is not checked; any other must name a file or folder of the repository, relative to the page that
links to it, and its #anchor (or a bare #anchor, on the same page) must be the anchor GitHub gives
one of the headings of the target page. GitHub's rule: the heading's text lowercased, every
character that is not a letter, digit, underscore, hyphen or space dropped, each space turned into
a hyphen, and a repeated heading suffixed -1, -2, ...
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")  # [text](target "title")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # https:, mailto:, ...
FENCE = re.compile(r"^\s*(```|~~~)")  # a fenced code block opens or closes (also indented in a list)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks, inline code blanked out."""
    lines, in_code = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            lines.append((number, re.sub(r"`[^`]*`", "code", line)))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading's text (before any -1, -2 for repeats)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    # _emphasis_ and __bold__ markers go (* and ` are dropped below as punctuation); an underscore
    # inside a word, as in target_kl, is text and stays
    text = re.sub(r"(?<!\w)(__?)(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of every heading of a Markdown page."""
    found, seen = set(), {}
    in_code = False
    for line in page.read_text().splitlines():
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code and (heading := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link and image of a page, outside code."""
    return [(number, match.group(1)) for number, line in prose_lines(page.read_text())
            for match in LINK.finditer(line)]


def link_problems(page: Path, root: Path) -> list[str]:
    """One line per link of `page` that leads nowhere, as page:line: target: why."""
    problems = []
    for number, target in links(page):
        if SCHEME.match(target):
            continue  # a web address: not this test's business
        path_part, _, fragment = target.partition("#")
        destination = (page.parent / unquote(path_part)).resolve() if path_part else page.resolve()
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not destination.is_relative_to(root.resolve()):
            problems.append(f"{where}: outside the repository")
        elif not destination.exists():
            problems.append(f"{where}: no such file")
        elif fragment and destination.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not Markdown")
        elif fragment and fragment not in anchors(destination):
            target_page = destination.relative_to(root.resolve())
            problems.append(f"{where}: no heading with this anchor in {target_page}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_resolves(page):
    problems = link_problems(page, ROOT)
    assert not problems, "links that lead nowhere:\n" + "\n".join(problems)


def test_the_pages_are_found_and_linked():
    # guards against a parser that finds nothing and so passes everything
    assert {page.name for page in PAGES} >= {"README.md", "cartpole.md", "hammer.md", "ppo_for_learners.md",
                                              "sweeps.md", "tests.md"}
    readme_links = [target for _, target in links(ROOT / "README.md")]
    assert len(readme_links) > 10
    assert any("#" in target for target in readme_links)


def test_anchor_rule_matches_githubs_documented_examples():
    # GitHub's "Basic writing and formatting syntax" page, section links (emphasis markers vanish,
    # so _Helpful_ is one word between single hyphens)
    assert slug("Sample Section") == "sample-section"
    assert slug("This'll be a _Helpful_ Section About the Greek Letter Θ!") == \
        "thisll-be-a-helpful-section-about-the-greek-letter-θ"
    # a second implementation of the rule (mdrefcheck's heading2link): runs are not collapsed
    assert slug("This -- Is__A_Test!") == "this----is__a_test"
    assert slug("Hello World") == "hello-world"


def test_repeated_headings_get_numbered_anchors(tmp_path):
    # GitHub's documented example: the second of two equal headings gets -1
    page = tmp_path / "page.md"
    page.write_text("# This heading is not unique in the file\n\ntext\n\n"
                    "# This heading is not unique in the file\n")
    assert anchors(page) == {"this-heading-is-not-unique-in-the-file",
                             "this-heading-is-not-unique-in-the-file-1"}


def test_broken_links_and_anchors_are_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## The `--min-std` floor: why\n")
    (tmp_path / "figure.png").write_bytes(b"")
    page = tmp_path / "README.md"
    page.write_text("\n".join([
        "# Title",
        "[fine](docs/other.md#the---min-std-floor-why) ![fine](figure.png) [fine](#title) [web](https://x.invalid/y)",
        "[gone](docs/missing.md)",
        "[bad anchor](docs/other.md#no-such-heading)",
        "[bad self anchor](#no-such-section)",
        "[escapes](../elsewhere.md)",
        "```bash",
        "[inside code](not/checked.md)",
        "```",
        "`[inline code](not/checked/either.md)`",
    ]) + "\n")
    problems = link_problems(page, tmp_path)
    assert problems == [
        "README.md:3: docs/missing.md: no such file",
        "README.md:4: docs/other.md#no-such-heading: no heading with this anchor in docs/other.md",
        "README.md:5: #no-such-section: no heading with this anchor in README.md",
        "README.md:6: ../elsewhere.md: outside the repository",
    ]


def test_the_readme_gives_each_script_its_line_count():
    # The table of scripts says how long each is: the count must be the file's (wc -l), and within
    # the budgets of STYLE.md (reinforce 240, vpg 290, ppo 360, the hammer 900).
    rows = re.findall(r"^\| \[`(\w+\.py)`\]\(\1\) \| (\d+) \|", (ROOT / "README.md").read_text(), flags=re.M)
    assert [name for name, _ in rows] == ["reinforce_cartpole.py", "vpg_cartpole.py", "ppo_cartpole.py",
                                          "ppo_hammer_bc_kl.py"]
    budgets = {"reinforce_cartpole.py": 240, "vpg_cartpole.py": 290, "ppo_cartpole.py": 360,
               "ppo_hammer_bc_kl.py": 900}
    for name, lines in rows:
        counted = len((ROOT / name).read_text().splitlines())
        assert int(lines) == counted, f"README says {name} has {lines} lines; it has {counted}"
        assert counted <= budgets[name], f"{name}: {counted} lines, over its budget of {budgets[name]}"
