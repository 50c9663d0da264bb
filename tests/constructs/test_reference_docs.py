"""The construct reference (docs/reference/constructs.md) lists every prop the code takes, and is
the only place that does: no other page, nor the READMEs, keeps a copy of its rows."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs_cdk import JobBackend, JobCode, JobMonitoring, JobQueue, JobSchedule

REPO = Path(__file__).resolve().parents[2]
REFERENCE_PAGE = REPO / "docs" / "reference" / "constructs.md"
REFERENCE = REFERENCE_PAGE.read_text()


def _props(function: Callable[..., Any]) -> list[str]:
    skip = {"self", "scope", "id"}
    return [name for name in inspect.signature(function).parameters if name not in skip]


PROPS = {
    "JobBackend": _props(JobBackend.__init__),
    "JobQueue": _props(JobQueue.__init__),
    "JobCode.from_directory": _props(JobCode.from_directory),
    "JobMonitoring": [field.name for field in dataclasses.fields(JobMonitoring)],
    "JobSchedule": _props(JobSchedule.__init__),
}


@pytest.mark.parametrize("owner", PROPS)
def test_every_prop_has_a_row_in_the_construct_reference(owner: str) -> None:
    missing = [name for name in PROPS[owner] if f"\n| `{name}` |" not in REFERENCE]
    assert missing == [], owner


def test_priority_lane_signature_is_in_the_construct_reference() -> None:
    from lambda_jobs_cdk import PriorityLane

    parameters = list(inspect.signature(PriorityLane.__init__).parameters.values())[1:]
    spelled = ", ".join(
        p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
        for p in parameters
    )
    assert f"`PriorityLane(*, {spelled})`" in " ".join(REFERENCE.split())


def _other_pages() -> dict[str, str]:
    pages = {str(p.relative_to(REPO)): p.read_text() for p in (REPO / "docs").rglob("*.md")}
    del pages[str(REFERENCE_PAGE.relative_to(REPO))]
    for readme in ("README.md", "constructs/README.md", "runtime/README.md"):
        if (REPO / readme).exists():
            pages[readme] = (REPO / readme).read_text()
    return pages


def test_the_readmes_link_to_the_reference() -> None:
    assert "(docs/reference/constructs.md)" in (REPO / "README.md").read_text()
    assert "(../docs/reference/constructs.md)" in (REPO / "constructs" / "README.md").read_text()


def test_no_other_page_copies_a_row_of_the_reference() -> None:
    rows = [line for line in REFERENCE.splitlines() if line.startswith("| `")]
    assert rows
    copied = {name: [r for r in rows if r in text] for name, text in _other_pages().items()}
    assert {name: found for name, found in copied.items() if found} == {}
