"""The construct reference (constructs/README.md) lists every prop the code takes, and is the
only place that does: the root README links to it instead of keeping a copy of its tables."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs_cdk import JobBackend, JobCode, JobMonitoring, JobQueue, JobSchedule

REPO = Path(__file__).resolve().parents[2]
REFERENCE = (REPO / "constructs" / "README.md").read_text()
ROOT_README = (REPO / "README.md").read_text()


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


def test_the_root_readme_links_to_the_reference_and_copies_none_of_its_tables() -> None:
    assert "(constructs/README.md)" in ROOT_README
    rows = [line for line in REFERENCE.splitlines() if line.startswith("| `")]
    assert rows
    copied = [row for row in rows if row in ROOT_README]
    assert copied == []
