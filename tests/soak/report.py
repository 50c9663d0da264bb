"""The reliability suite's figures: printed at the end of the pytest run, kept in RESULTS.md.

Each test adds one :class:`Figure` (what ran and what came of it). The terminal summary prints
them all; a full-size run (``SOAK_SCALE=full``, ``make soak``) in which every soak test passed also
replaces ``tests/soak/RESULTS.md`` with them, the machine, the date and the command.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class Figure(NamedTuple):
    test: str
    summary: str


FIGURES: list[Figure] = []

NOTES = [
    "Reading the figures:",
    "",
    "- *executions* counts every run a task wrote; *duplicates* are runs beyond what the job",
    "  needed (delivery is at-least-once: a batch whose environment died runs its finished",
    "  records again; a request whose answer was lost is retried by botocore and sent twice).",
    "- *lost* is a job that AWS accepted (or the client reported sent) and that never ran to its",
    "  end, or a failing job missing from the DLQ. Every test fails if it is not 0.",
    "- Goat timings under load measure moto more than lambda-jobs: moto's `SendMessageBatch` and",
    "  `ReceiveMessage` get slower as the queue deepens (benchmarks/RESULTS.md, benchmark 3), so",
    "  2,000 jobs enqueued at once take far longer than ten times 200. The counts are the point.",
    "- Bad-input properties run 400 hypothesis examples each at full size (60 in CI).",
    "- The full run takes about 7 minutes on a shared 2-core machine, more than half of it the",
    "  2,000-job Goat load (moto's queue-depth cost above); the load is kept at full size.",
]


def add(test: str, summary: str) -> None:
    """Record one test's figures (printed at the end of the run); ``+store`` with a job store."""
    from tests.soak.sizes import JOB_STORE

    FIGURES.append(Figure(f"{test} +store" if JOB_STORE else test, summary))


def lines() -> list[str]:
    return [f"{figure.test}: {figure.summary}" for figure in FIGURES]


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    python = ".".join(str(part) for part in sys.version_info[:3])
    cores = os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cores} cores {model}, Python {python}"


def write_results(command: str, duration_s: float) -> None:
    """Replace RESULTS.md with this run's figures."""
    text = [
        "# Reliability suite: latest full-size figures",
        "",
        "Written by `make soak` (`SOAK_SCALE=full`) when every soak test passed; replaced on each",
        "full run. The CI size runs the same tests smaller inside `make test`.",
        "",
        f"- machine: {machine()}",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{command}`",
        f"- suite wall time: {duration_s:.0f} s",
        "",
        "| test | figures |",
        "|---|---|",
        *(f"| `{figure.test}` | {figure.summary} |" for figure in FIGURES),
        "",
        *NOTES,
        "",
    ]
    RESULTS.write_text("\n".join(text) + kept_store_section(), encoding="utf-8")


STORE_SECTION = "## With the job store"


def kept_store_section() -> str:
    """The job-store figures of RESULTS.md (``SOAK_JOB_STORE=1`` runs), kept across default runs."""
    if not RESULTS.exists():
        return ""
    old = RESULTS.read_text(encoding="utf-8")
    start = old.find(STORE_SECTION)
    return "\n" + old[start:] if start >= 0 else ""
