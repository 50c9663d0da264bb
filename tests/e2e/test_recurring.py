"""Recurring jobs under ``lambda-jobs local``, on both backends: real schedules, real handler.

The emulator runs the recurring app's stacks (``tests/e2e/recurring_app.py``) with
``--schedule-clock-scale 30``: a ``rate(1 minute)`` schedule fires every 2 s of real time, so each
test sees several firings in seconds. What is checked is what the tasks wrote to their log file
and what the dead-letter queues hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import Backend, poll, synthesize
from tests.e2e.recurring_app import STACKS, UNKNOWN_TASK, failure_message

CLOCK_SCALE = "30"


@pytest.fixture(scope="module")
def recurring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Backend]]:
    directory = tmp_path_factory.mktemp("recurring")
    app = synthesize(directory / "cdk.out", app="python -m tests.e2e.recurring_app")
    demo_log = directory / "jobs.jsonl"
    stacks = [arg for stack in STACKS.values() for arg in ("--stack", stack)]
    with EmulatorProcess(
        app,
        log_path=directory / "emulator.log",
        extra_args=[
            *stacks,
            "--schedule-clock-scale",
            CLOCK_SCALE,
            "--env",
            f"LAMBDA_JOBS_DEMO_LOG={demo_log}",
        ],
    ) as emulator:
        yield {name: Backend(name, emulator, demo_log) for name in STACKS}


@pytest.fixture(params=list(STACKS))
def backend(request: pytest.FixtureRequest, recurring: dict[str, Backend]) -> Backend:
    chosen: Backend = recurring[request.param]
    return chosen


def _ticks(backend: Backend, label: str) -> list[dict[str, Any]]:
    return backend.events(task="tick", label=label)


def _at_least(backend: Backend, label: str, count: int) -> list[dict[str, Any]] | None:
    found = _ticks(backend, label)
    return found if len(found) >= count else None


def test_a_recurring_schedule_fires_repeatedly_each_firing_once_as_its_own_job(
    backend: Backend,
) -> None:
    label = f"{backend.name} tick"
    ticks = poll(
        lambda: _at_least(backend, label, 4),
        timeout=60,
        what=f"four firings of {backend.name}'s tick schedule",
    )
    runs = Counter(tick["job_id"] for tick in ticks)
    assert set(runs.values()) == {1}, runs  # each firing ran exactly once
    times = sorted(datetime.fromisoformat(tick["scheduled_time"]) for tick in ticks)
    assert len(set(times)) == len(times)
    # rate(1 minute): the scheduled times are one (emulated) minute apart, none skipped.
    assert {b - a for a, b in pairwise(times)} == {timedelta(minutes=1)}
    assert all(tick["schedule"] == "tick" and tick["attempt"] == 1 for tick in ticks)


def test_a_failing_scheduled_task_retries_then_reaches_the_dlq_with_its_error(
    backend: Backend,
) -> None:
    message = failure_message(backend.name)

    def dead_lettered() -> dict[str, Any] | None:
        for entry in backend.dead_letters():
            attributes = {
                key: value.get("StringValue")
                for key, value in (entry.get("MessageAttributes") or {}).items()
            }
            if (
                attributes.get("lambda_jobs.task") == "demo_tasks.failing"
                and attributes.get("lambda_jobs.reason") == "exhausted"
            ):
                return {"attributes": attributes, "body": json.loads(entry["Body"])}
        return None

    found = poll(dead_lettered, timeout=90, what=f"a failed firing in {backend.name}'s DLQ")
    attributes = found["attributes"]
    assert attributes["lambda_jobs.error_type"] == "RuntimeError"
    assert attributes["lambda_jobs.error_message"] == message
    assert attributes["lambda_jobs.attempts"] == "2"
    body = found["body"]
    # Goat keeps the delivery as it arrived, or the envelope of its retry copy (standard queues);
    # Lamb the retried envelope. A redrive sends either back.
    schedule = body.get("schedule") if backend.name == "lamb" else body["schedule"]
    assert schedule == "failing" or schedule["name"] == "failing"
    assert len(backend.events(task="failing", message=message, event="failed")) >= 2


def test_a_schedule_whose_task_is_unknown_ends_in_the_dlq(backend: Backend) -> None:
    def dead_lettered() -> dict[str, str | None] | None:
        for entry in backend.dead_letters():
            attributes = {
                key: value.get("StringValue")
                for key, value in (entry.get("MessageAttributes") or {}).items()
            }
            if attributes.get("lambda_jobs.task") == UNKNOWN_TASK:
                return attributes
        return None

    attributes = poll(dead_lettered, timeout=60, what=f"the unknown task in {backend.name}'s DLQ")
    assert attributes["lambda_jobs.reason"] == "unknown_task"
    assert UNKNOWN_TASK in str(attributes["lambda_jobs.error_message"])


def test_a_schedule_on_a_fifo_queue_fires_through_its_message_group(
    recurring: dict[str, Backend],
) -> None:
    goat = recurring["goat"]
    ticks = poll(
        lambda: _at_least(goat, "goat fifo tick", 2),
        timeout=60,
        what="two firings of the FIFO schedule",
    )
    assert len({tick["job_id"] for tick in ticks}) == len(ticks)
    assert all(tick["schedule"] == "ordered-tick" for tick in ticks)


def _cli(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAMBDA_JOBS_CONFIG": backend.config_value}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "lambda_jobs_tools.cli", "schedules", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_schedules_command_lists_each_schedule_with_its_next_three_firings(
    backend: Backend,
) -> None:
    result = _cli(backend, "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    expected = {"tick", "failing", "unknown"} | (
        {"ordered-tick"} if backend.name == "goat" else set()
    )
    assert set(rows) == expected
    tick = rows["tick"]
    assert tick["expression"] == "rate(1 minute)"
    assert tick["timezone"] == "UTC"
    assert tick["state"] == "ENABLED"
    assert tick["task"] == "demo_tasks.tick"
    firings = [datetime.fromisoformat(when) for when in tick["next"]]
    assert len(firings) == 3
    assert {b - a for a, b in pairwise(firings)} == {timedelta(minutes=1)}
    table = _cli(backend, "list")
    assert table.returncode == 0, table.stderr
    assert "rate(5 minutes)" in table.stdout and "demo_tasks.tick" in table.stdout


def test_schedules_run_enqueues_the_schedule_s_job_once_now(backend: Backend) -> None:
    result = _cli(backend, "run", "tick")
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    ran = poll(
        lambda: backend.events(task="tick", job_id=job_id),
        timeout=30,
        what="the one-off job of schedule tick",
    )
    assert len(ran) == 1
    assert ran[0]["label"] == f"{backend.name} tick"
    assert ran[0]["schedule"] is None  # a one-off job, not a firing
    unknown = _cli(backend, "run", "nope")
    assert unknown.returncode == 2
    assert "no recurring schedule 'nope'" in unknown.stderr and "tick" in unknown.stderr
    aws.reset()
