"""The documentation says each thing once and stays a guide, not a notebook.

Pins: every environment variable the runtime or the constructs read or set has one row, on one
page (``LAMBDA_JOBS_CONFIG`` its own page); the README stays a short front page that links to
the site; no page carries notes about the docs' own making. The site itself is built with
``mkdocs build --strict`` by ``make docs`` (part of ``make test``): broken links and anchors fail
there. The construct reference's own checks are in tests/constructs/test_reference_docs.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: Every distribution's source (a tools distribution, once it exists, is searched too).
CODE = [REPO / "runtime", REPO / "constructs", REPO / "tools"]
VARIABLE = re.compile(r"\"(LAMBDA_JOBS_[A-Z_]+|DJANGO_SETTINGS_MODULE)\"")

#: The page that documents each variable; every other variable is in the handler's table, or,
#: read only by the tools distribution (``lambda-jobs local``), in the local emulator's.
OWN_PAGE = {"LAMBDA_JOBS_CONFIG": DOCS / "guide" / "configuration.md"}
HANDLER_PAGE = DOCS / "reference" / "handler.md"
TOOLS_PAGE = DOCS / "guide" / "local.md"


def _pages() -> dict[Path, str]:
    pages = {path: path.read_text() for path in DOCS.rglob("*.md")}
    for readme in (REPO / "README.md", REPO / "constructs" / "README.md"):
        pages[readme] = readme.read_text()
    return pages


def _variables_in_code(roots: list[Path]) -> set[str]:
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*.py") if root.exists() else ():
            found |= set(VARIABLE.findall(path.read_text()))
    return found


VARIABLES = sorted(_variables_in_code(CODE))
TOOLS_ONLY = _variables_in_code([REPO / "tools"]) - _variables_in_code(CODE[:2])


def test_the_code_has_variables_to_document() -> None:
    assert {"LAMBDA_JOBS_CONFIG", "LAMBDA_JOBS_TASKS", "LAMBDA_JOBS_DLQ_URL"} <= set(VARIABLES)


@pytest.mark.parametrize("name", VARIABLES)
def test_each_environment_variable_is_documented_once(name: str) -> None:
    rows = {
        path.relative_to(REPO).as_posix(): text.count(f"\n| `{name}` |")
        for path, text in _pages().items()
    }
    if name in OWN_PAGE:
        page = OWN_PAGE[name]
        assert page.read_text().startswith("# Configuration"), page
        assert f"`{name}`" in page.read_text()
        assert {p: n for p, n in rows.items() if n} == {}, name
    else:
        page = TOOLS_PAGE if name in TOOLS_ONLY else HANDLER_PAGE
        documented = page.relative_to(REPO).as_posix()
        assert {p: n for p, n in rows.items() if n} == {documented: 1}, name


def test_the_readme_is_a_front_page() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    pages = (
        "getting-started.md",
        "guide/tasks.md",
        "operations/runbook.md",
        "reference/handler.md",
    )
    for page in pages:
        assert f"(docs/{page})" in readme, page


LAB_NOTES = ("stored copy", "not met", "issues 11", "pages read", "our reading", "not verified")


def test_no_page_keeps_notes_about_its_own_making() -> None:
    found = {
        path.relative_to(REPO).as_posix(): [note for note in LAB_NOTES if note in text.lower()]
        for path, text in _pages().items()
    }
    assert {page: notes for page, notes in found.items() if notes} == {}


def test_every_page_is_in_the_navigation() -> None:
    nav = (REPO / "mkdocs.yml").read_text()
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert {page for page in pages if page not in nav} == set()
