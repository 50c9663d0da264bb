"""Goat FIFO lanes under ``lambda-jobs local`` (issue 27): a failed job or a hand-back holds its
message group only for the failed job's backoff (or not at all), never for the queue's 60 s
visibility timeout, and the group's jobs run in the order they were sent.

Each test starts its own emulator for one stack of ``tests/e2e/fifo_app.py``.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws, enqueue_many
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import Backend, poll, synthesize
from tests.e2e.fifo_app import FIFO_PROJECT, STACKS, VISIBILITY_S

pytestmark = pytest.mark.e2e

if str(FIFO_PROJECT) not in sys.path:
    sys.path.insert(0, str(FIFO_PROJECT))
#: The tasks module, imported under the name the functions register it by (``fifo_tasks``).
fifo_tasks: Any = importlib.import_module("fifo_tasks")

JOBS = 8


@pytest.fixture(scope="module")
def fifo_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("fifo") / "cdk.out", app="python -m tests.e2e.fifo_app"
    )


Start = Callable[[str], AbstractContextManager[Backend]]


@pytest.fixture
def start(fifo_assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """``start(setting)``: a context manager running that stack, the client aimed at it."""

    @contextmanager
    def running(setting: str) -> Iterator[Backend]:
        log = tmp_path / f"{setting}.jsonl"
        with EmulatorProcess(
            fifo_assembly,
            log_path=tmp_path / f"{setting}-emulator.log",
            extra_args=["--stack", STACKS[setting], "--env", f"FIFO_LOG={log}"],
        ) as emulator:
            backend = Backend("goat", emulator, log)
            monkeypatch.setenv("LAMBDA_JOBS_CONFIG", backend.config_value)
            aws.reset()
            try:
                yield backend
            finally:
                aws.reset()

    yield running


def runs_of(goat: Backend, series: str, count: int) -> Callable[[], list[dict[str, Any]] | None]:
    """A poll condition: the series' ``count`` runs in the order they ran, once all are there."""

    def found() -> list[dict[str, Any]] | None:
        runs = goat.events(series=series)
        return runs if len(runs) >= count else None

    return found


def test_a_failed_job_holds_its_group_for_its_backoff_then_the_group_runs_in_order(
    start: Start,
) -> None:
    """The issue's scenario: eight jobs of one group, the third fails once (retries=2, backoff
    1 s). Before the fix, the five jobs after it waited out the 60 s visibility timeout and the
    emulator ran the last of them first."""
    with start("failure") as goat:
        series = uuid.uuid4().hex[:8]
        enqueue_many(fifo_tasks.step.prepare(series, n, fail_on=2) for n in range(JOBS))
        runs = poll(
            runs_of(goat, series, JOBS + 1),
            timeout=VISIBILITY_S / 2,
            what="every step of the series (not the 60 s visibility timeout)",
        )
        assert [(e["n"], e["failed"]) for e in runs] == [
            (0, False),
            (1, False),
            (2, True),
            *((n, False) for n in range(2, JOBS)),
        ]
        failed_at, retried_at = runs[2]["at"], runs[3]["at"]
        assert 1 <= retried_at - failed_at < 10, f"retried {retried_at - failed_at:.1f} s later"
        assert runs[-1]["at"] - failed_at < 15
        lane = goat.config["queues"]["ordered"]["lanes"][0]["target"]
        poll(lambda: goat.queue_depth(lane) == 0, timeout=10, what="the lane to drain")
        assert len(goat.events(series=series)) == JOBS + 1  # nothing ran twice
        assert not goat.dead_letters()


def test_a_hand_back_on_fifo_resumes_at_once_in_order(start: Start) -> None:
    """Every invocation runs one job and hands the rest back: without the release each hand-back
    would wait the 60 s visibility timeout."""
    with start("handback") as goat:
        series = uuid.uuid4().hex[:8]
        count = 4
        enqueue_many(fifo_tasks.handed.prepare(series, n) for n in range(count))
        runs = poll(
            runs_of(goat, series, count),
            timeout=VISIBILITY_S / 2,
            what="every handed-back job (not the 60 s visibility timeout)",
        )
        assert [e["n"] for e in runs] == list(range(count))
        log = goat.emulator.log_path.read_text(encoding="utf-8")
        assert '"outcome": "handed_back"' in log
        assert runs[-1]["at"] - runs[0]["at"] < 15
        lane = goat.config["queues"]["ordered"]["lanes"][0]["target"]
        poll(lambda: goat.queue_depth(lane) == 0, timeout=10, what="the lane to drain")
        assert len(goat.events(series=series)) == count  # nothing ran twice
        assert not goat.dead_letters()
