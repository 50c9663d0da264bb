"""Flow control under ``lambda-jobs local`` on both backends (issue 20): measured, not timed.

Each test starts the emulator for one backend of ``tests/e2e/limits_app.py`` (both with a job
store, 6 execution environments so that more jobs could run at once than the limits allow),
enqueues a burst through the public client and reads what the tasks recorded (start and end of
each run): the caps hold, every job succeeds on attempt 1, and the handler logged ``limited``
lines (so the limits were really in the way).

Sizes: the CI size by default, the issue's full size (300 and 100 jobs) with ``SOAK_SCALE=full``.
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
from lambda_jobs import Concurrency, aws, enqueue_many
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import Backend, handler_lines, poll, synthesize
from tests.e2e.limits_app import LIMITS_PROJECT, STACKS
from tests.soak.sizes import FULL

pytestmark = pytest.mark.e2e

if str(LIMITS_PROJECT) not in sys.path:
    sys.path.insert(0, str(LIMITS_PROJECT))
#: The tasks module, imported under the name the functions register it by (``limits_tasks``).
limits_tasks: Any = importlib.import_module("limits_tasks")

CONCURRENCY_JOBS = 300 if FULL else 24
RATE_JOBS = 100 if FULL else 30
KEY_JOBS_EACH = 4
ENVIRONMENTS = "6"
BACKENDS = ["goat", "lamb"]


@pytest.fixture(scope="module")
def limits_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("limits") / "cdk.out", app="python -m tests.e2e.limits_app"
    )


Start = Callable[[str], AbstractContextManager[Backend]]


@pytest.fixture
def start(
    limits_assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Start]:
    """``start(backend)``: a context manager running that backend, the client aimed at it."""

    @contextmanager
    def running(name: str) -> Iterator[Backend]:
        log = tmp_path / f"{name}.jsonl"
        with EmulatorProcess(
            limits_assembly,
            log_path=tmp_path / f"{name}-emulator.log",
            extra_args=[
                "--stack",
                STACKS[name],
                "--concurrency",
                ENVIRONMENTS,
                "--env",
                f"LIMITS_LOG={log}",
            ],
        ) as emulator:
            backend = Backend(name, emulator, log)
            monkeypatch.setenv("LAMBDA_JOBS_CONFIG", backend.config_value)
            aws.reset()
            try:
                yield backend
            finally:
                aws.reset()

    yield running


def all_runs(backend: Backend, series: str, count: int, timeout: float) -> list[dict[str, Any]]:
    return poll(
        lambda: runs if len(runs := backend.events(series=series)) >= count else None,
        timeout=timeout,
        what=f"{count} runs of {series}",
        interval=0.5,
    )


def succeeded_lines(backend: Backend) -> list[dict[str, Any]]:
    return handler_lines(backend.emulator.log_path, "succeeded")


def max_overlap(runs: list[dict[str, Any]]) -> int:
    """The most runs that were running at one moment (an end before a start at one instant)."""
    edges = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running = most = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        running += step
        most = max(most, running)
    return most


def most_in_window(starts: list[float], window: float) -> int:
    """The most starts in any half-open window of ``window`` seconds."""
    starts = sorted(starts)
    most = first = 0
    for last, at in enumerate(starts):
        while starts[first] <= at - window:
            first += 1
        most = max(most, last - first + 1)
    return most


@pytest.mark.parametrize("name", BACKENDS)
def test_a_burst_under_concurrency_3_never_runs_more_than_3_and_all_succeed_on_attempt_1(
    start: Start, name: str
) -> None:
    series = f"c-{uuid.uuid4().hex[:8]}"
    with start(name) as backend:
        enqueue_many(limits_tasks.capped.prepare(series, i) for i in range(CONCURRENCY_JOBS))
        runs = all_runs(backend, series, CONCURRENCY_JOBS, timeout=60 + CONCURRENCY_JOBS)
        assert sorted(r["n"] for r in runs) == list(range(CONCURRENCY_JOBS))  # each once
        assert {r["attempt"] for r in runs} == {1}
        assert max_overlap(runs) <= 3
        limited = handler_lines(backend.emulator.log_path, "limited")
        assert limited, "the burst never met its limit: the test proves nothing"
        assert {line["limit"] for line in limited} == {"c"}
        assert backend.dead_letters() == []
        emf = backend.emulator.log_path.read_text(encoding="utf-8")
        assert '"JobsLimited":' in emf  # the EMF count of limited starts


@pytest.mark.parametrize("name", BACKENDS)
def test_a_burst_under_rate_10_per_second_never_starts_more_than_10_in_a_second(
    start: Start, name: str
) -> None:
    series = f"r-{uuid.uuid4().hex[:8]}"
    with start(name) as backend:
        receipts = enqueue_many(limits_tasks.paced.prepare(series, i) for i in range(RATE_JOBS))
        runs = all_runs(backend, series, RATE_JOBS, timeout=60 + RATE_JOBS)
        assert sorted(r["n"] for r in runs) == list(range(RATE_JOBS))
        assert {r["attempt"] for r in runs} == {1}
        # The promise is on the grants (docs/guide/limits.md): the store's time of each start,
        # which the job's line carries as granted_at. The tasks' own first lines come later by a
        # time that a loaded machine stretches (once 11 within 0.82 s, grants spaced as promised).
        ids = {receipt.id for receipt in receipts}
        granted = poll(
            lambda: (
                found
                if len(found := [x for x in succeeded_lines(backend) if x["id"] in ids])
                >= RATE_JOBS
                else None
            ),
            timeout=30,
            what=f"{RATE_JOBS} succeeded lines",
        )
        assert most_in_window([line["granted_at"] for line in granted], 1.0) <= 10
        assert max(line["limited_s"] for line in granted) > 0  # some waited: the rate was met
        limited = handler_lines(backend.emulator.log_path, "limited")
        assert {line["limit"] for line in limited} == {"r"}
        assert backend.dead_letters() == []


@pytest.mark.parametrize("name", BACKENDS)
def test_keys_run_side_by_side_and_one_at_a_time_within_a_key(start: Start, name: str) -> None:
    series = f"k-{uuid.uuid4().hex[:8]}"
    accounts = ["a", "b", "c"]
    with start(name) as backend:
        enqueue_many(
            limits_tasks.per_account.prepare(account, series, i)
            for i in range(KEY_JOBS_EACH)
            for account in accounts
        )
        runs = all_runs(backend, series, KEY_JOBS_EACH * len(accounts), timeout=90)
        assert {r["attempt"] for r in runs} == {1}
        for account in accounts:
            mine = [r for r in runs if r["account"] == account]
            assert len(mine) == KEY_JOBS_EACH
            assert max_overlap(mine) == 1, f"two jobs of account {account} overlapped"
        assert max_overlap(runs) >= 2, "the accounts never ran side by side"


def test_using_limits_gives_one_job_limits_its_task_does_not_have(start: Start) -> None:
    """``task.using(limits=[...])`` travels in the envelope: the worker holds the job to it."""
    series = f"u-{uuid.uuid4().hex[:8]}"
    with start("goat") as backend:
        limited_task = limits_tasks.free.using(limits=[Concurrency("solo", 1)])
        enqueue_many(limited_task.prepare(series, i) for i in range(6))
        runs = all_runs(backend, series, 6, timeout=90)
        assert max_overlap(runs) == 1
        limited = handler_lines(backend.emulator.log_path, "limited")
        assert {line["limit"] for line in limited} == {"solo"}
