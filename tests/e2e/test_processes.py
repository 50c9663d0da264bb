"""Process-level guarantees of ``lambda-jobs local``: a crashed environment loses no job, and
SIGINT / SIGTERM leave no process behind."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws
from lambda_jobs.config import parse_text
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import Backend, demo_tasks, poll, synthesize
from tests.e2e.crash_app import CRASH_STACK

pytestmark = pytest.mark.e2e


def _seconds(base: float) -> float:
    return round(base + uuid.uuid4().int % 1000 / 100000, 5)


def _descendants(root: int) -> set[int]:
    """Every live process below ``root``, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        frontier.extend(children)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_when_started(backend: Backend, seconds: float) -> int:
    event = poll(
        lambda: backend.events(task="slow", seconds=seconds, event="started"),
        timeout=20,
        what="the job to start",
    )[0]
    os.kill(event["pid"], signal.SIGKILL)
    return int(event["pid"])


def test_killing_a_lamb_environment_mid_job_loses_no_job(lamb: Backend) -> None:
    seconds = _seconds(1.2)
    job = demo_tasks.slow.enqueue(seconds)
    killed = _kill_when_started(lamb, seconds)
    # Lambda retries the crashed async event (after 60 s x 0.05) in a fresh environment.
    finished = poll(
        lambda: lamb.events(task="slow", seconds=seconds, event="finished"),
        timeout=30,
        what="the job to finish after the crash",
    )
    assert finished[0]["pid"] != killed
    assert lamb.dead_letter_for(job.id) is None
    # Lambda retried the crashed event under its request id, which took the lease over at once.
    poll(lambda: job.refresh().status == "succeeded", timeout=10, what="the store to say so")
    assert job.attempts == 2 and len(set(job.worker_ids)) == 1


def test_lamb_crashing_on_every_attempt_ends_in_the_dlq(lamb: Backend) -> None:
    seconds = _seconds(1.3)
    job = demo_tasks.slow.enqueue(seconds)  # retries=1: two attempts
    for attempt in range(1, 3):

        def nth_start(attempt: int = attempt) -> list[dict[str, Any]]:
            return lamb.events(task="slow", seconds=seconds, event="started")[attempt - 1 : attempt]

        event = poll(nth_start, timeout=30, what=f"try {attempt} to start")[0]
        os.kill(event["pid"], signal.SIGKILL)
    # The job store counts each crashed attempt: Lambda's third try is past the last attempt, so
    # the handler dead-letters it without starting it (without the store, Lambda's own retries
    # would run it a third time and its on-failure destination record would be the DLQ entry).
    message = poll(lambda: lamb.dead_letter_for(job.id), timeout=20, what="the DLQ entry")
    attributes = message["MessageAttributes"]
    assert attributes["lambda_jobs.error_type"]["StringValue"] == "IncompleteAttempts"
    assert attributes["lambda_jobs.attempts"]["StringValue"] == "3"
    assert job.refresh().status == "failed" and job.error_type == "IncompleteAttempts"
    runs = lamb.events(task="slow", seconds=seconds, event="started")  # the task's own lines
    assert len(runs) == 2
    assert not lamb.events(task="slow", seconds=seconds, event="finished")
    # Issue 31 point 6: the refused third delivery is no attempt: the store counts the 2 runs
    # (Django's attempts is len(worker_ids)), one worker each.
    assert job.attempts == len(runs) and len(job.worker_ids) == len(runs), (
        job.attempts,
        job.worker_ids,
    )


@pytest.fixture(scope="module")
def crash_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    directory = tmp_path_factory.mktemp("crash")
    app = synthesize(directory / "cdk.out", app="python -m tests.e2e.crash_app")
    demo_log = directory / "jobs.jsonl"
    with EmulatorProcess(
        app,
        log_path=directory / "emulator.log",
        extra_args=["--stack", CRASH_STACK, "--env", f"LAMBDA_JOBS_DEMO_LOG={demo_log}"],
    ) as emulator:
        yield Backend("goat", emulator, demo_log)


def test_killing_a_goat_environment_mid_job_loses_no_job(
    crash_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", crash_backend.config_value)
    aws.reset()
    # The crash app's 2 s function keeps 1.5 s for a job (margin 0.5 s), the store's claim included.
    seconds = _seconds(0.6)
    job = demo_tasks.slow.enqueue(seconds)
    killed = _kill_when_started(crash_backend, seconds)
    assert job.refresh().status == "running"  # the SIGKILLed attempt holds a lease
    # The batch comes back after the queue's visibility timeout (6 x the 2 s function timeout).
    finished = poll(
        lambda: crash_backend.events(task="slow", seconds=seconds, event="finished"),
        timeout=40,
        what="the job to run again after the crash",
    )
    assert finished[0]["pid"] != killed
    # Its lease (2 s time limit + 5 s) had run out when the message came back (12 s): claimed
    # again as attempt 2, by another invocation.
    poll(lambda: job.refresh().status == "succeeded", timeout=10, what="the store to say so")
    assert job.attempts == 2 and len(set(job.worker_ids)) == 2
    lane = crash_backend.config["queues"]["default"]["lanes"][0]["target"]
    poll(lambda: crash_backend.queue_depth(lane) == 0, timeout=10, what="the queue to drain")
    aws.reset()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_leaves_no_process_behind(
    sig: signal.Signals,
    demo_assembly: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo_log = tmp_path / "jobs.jsonl"
    emulator = EmulatorProcess(
        demo_assembly,
        log_path=tmp_path / "emulator.log",
        extra_args=["--env", f"LAMBDA_JOBS_DEMO_LOG={demo_log}"],
    )
    with emulator:
        # Both demo stacks: exactly one LAMBDA_JOBS_CONFIG line per backend, and nothing else.
        assert len(emulator.stdout_lines) == 2
        documents = [parse_text(line.split("=", 1)[1]) for line in emulator.stdout_lines]
        assert sorted(d.backend for d in documents) == ["goat", "lamb"]
        endpoints = {"sqs", "scheduler", "ssm", "lambda", "dynamodb"}
        assert all(set(d.endpoints) == endpoints for d in documents)
        backend = Backend("lamb", emulator, demo_log)
        monkeypatch.setenv("LAMBDA_JOBS_CONFIG", backend.config_value)
        aws.reset()
        seconds = _seconds(1.5)
        demo_tasks.slow.enqueue(seconds)
        poll(
            lambda: backend.events(task="slow", seconds=seconds, event="started"),
            timeout=20,
            what="an environment to be running a job",
        )
        children = _descendants(emulator.pid)
        assert len(children) >= 2, "moto and at least one execution environment"
        assert emulator.stop(sig) == 0
    poll(
        lambda: not [pid for pid in children if _alive(pid)],
        timeout=10,
        what="every child process to exit",
    )
    aws.reset()
