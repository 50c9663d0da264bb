"""The shape every benchmark hands ``run.py``: one section of figures, goals and notes.

Each ``bench_*.py`` script writes one :class:`Section` as JSON to the file named by ``--out``;
``run.py`` renders it in the terminal (rich) and in ``RESULTS.md`` (Markdown). Cells are
preformatted strings, so both renderings show exactly the same figures.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import TypedDict


class Goal(TypedDict):
    goal: str
    measured: str
    met: bool


class Table(TypedDict):
    title: str
    columns: list[str]
    rows: list[list[str]]


class Section(TypedDict):
    title: str
    method: str
    tables: list[Table]
    goals: list[Goal]
    notes: list[str]


def write_section(path: str, section: Section) -> None:
    Path(path).write_text(json.dumps(section, indent=2), encoding="utf-8")


def read_section(path: Path) -> Section:
    data: Section = json.loads(path.read_text(encoding="utf-8"))
    return data


def median(values: list[float]) -> float:
    return statistics.median(values)


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartile (the spread shown beside a median); both equal for one value."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def paired_ratio(values: list[float], baselines: list[float]) -> float:
    """Median of ``values[i] / baselines[i]``: rounds compared pairwise, so slow drift in the
    machine's load (other work on the same cores) cancels out of the ratio."""
    return statistics.median(v / b for v, b in zip(values, baselines, strict=True))
