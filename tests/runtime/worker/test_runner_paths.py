"""``async def`` tasks, ``BaseException`` raised by tasks and undecodable bodies in the handler.

Real-shaped SQS batches from moto and Lamb payloads through ``dispatch``, as in ``test_goat`` and
``test_lamb``. Pinned behaviour (issues 23, 24, 25):

- an ``async def`` task runs to completion on both backends; its exception is its failure; a stuck
  coroutine is stopped at its timeout (cancelled where it awaits, its ``finally`` runs) and the
  batch goes on;
- a task raising ``KeyboardInterrupt`` fails its job only: its neighbours succeed, it is retried,
  then dead-lettered with its error;
- a body nested deeper than the decoder follows is dead-lettered at once as ``undecodable``,
  never listed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime import lambda_events as ev
from tests.runtime.worker.test_goat import Goat
from tests.runtime.worker.test_lamb import Lamb

TASKS = "tests.runtime.sample_tasks,tests.runtime.runner_tasks"
R = "tests.runtime.runner_tasks."


@pytest.fixture
def goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Goat]:
    yield Goat(moto, monkeypatch, LAMBDA_JOBS_TASKS=TASKS)


@pytest.fixture
def lamb(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lamb]:
    from lambda_jobs.worker.coldstart import cold_start

    backend = Lamb(moto, monkeypatch)
    backend.runtime = cold_start({"LAMBDA_JOBS_TASKS": TASKS})
    yield backend


def test_goat_runs_an_async_task_to_completion_and_fails_its_exception(
    goat: Goat, tmp_path: Path
) -> None:
    goat.send(
        ev.envelope(R + "write_later", str(tmp_path / "out"), "awaited"),
        ev.envelope(R + "fail_later", str(tmp_path / "fails")),
    )
    _event, result = goat.run(2)
    assert (tmp_path / "out").read_text() == "awaited"
    assert ev.failed_ids(result) == []  # retried like a plain task's failure: a delayed copy
    delayed = goat.sqs.get_queue_attributes(QueueUrl=goat.url, AttributeNames=["All"])
    assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert (tmp_path / "fails").read_text() == "run\n"


def test_goat_times_out_a_stuck_coroutine_and_goes_on_with_the_batch(
    goat: Goat, tmp_path: Path
) -> None:
    goat.send(
        ev.envelope(R + "stuck", str(tmp_path / "stuck")),
        ev.envelope(R + "write_later", str(tmp_path / "after"), "after"),
    )
    started = time.monotonic()
    _event, result = goat.run(2)
    assert time.monotonic() - started < 3
    assert ev.failed_ids(result) == []
    assert (tmp_path / "stuck").read_text() == "started\nfinally\n"
    assert (tmp_path / "after").read_text() == "after"
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "exhausted"
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"
    assert "ran past its timeout of 0.3 s" in entry["error_message"]


def test_goat_async_task_without_timeout_is_stopped_before_the_function_deadline(
    goat: Goat, tmp_path: Path
) -> None:
    goat.send(
        ev.envelope(R + "await_unbounded", str(tmp_path / "trace")),
        ev.envelope(R + "write_later", str(tmp_path / "later"), "later"),
    )
    started = time.monotonic()
    _event, result = goat.run(2, ev.Context(remaining_ms=2600))  # margin 2000 ms: ~0.6 s to run
    # Unstopped, the task would await forever; stopped at its budget, the run ends after ~0.6 s
    # plus the DLQ send and the hand-back (moto's time, which a loaded machine stretches).
    assert time.monotonic() - started < 10
    assert (tmp_path / "trace").read_text() == "started\n"
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"
    assert "before the Lambda function's deadline" in entry["error_message"]
    # The budget is spent: the next record was handed back (re-sent), not started.
    assert not (tmp_path / "later").exists()
    assert ev.failed_ids(result) == []


def test_goat_keyboard_interrupt_fails_its_job_only(goat: Goat, tmp_path: Path) -> None:
    goat.send(
        ev.envelope(R + "write_later", str(tmp_path / "a"), "a"),
        ev.envelope(R + "interrupt", str(tmp_path / "interrupted")),
        ev.envelope("tests.runtime.sample_tasks.write_file", str(tmp_path / "b"), "b"),
    )
    _event, result = goat.run(3)  # must not raise
    assert ev.failed_ids(result) == []  # retrying: a copy delayed by its 1 s backoff
    assert (tmp_path / "a").read_text() == "a"
    assert (tmp_path / "b").read_text() == "b"
    _event, result = goat.run(1)  # the copy, once its backoff is over
    assert ev.failed_ids(result) == []
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "exhausted"
    assert entry["error_type"] == "KeyboardInterrupt"
    assert entry["error_message"] == "interrupted interrupted"
    assert entry["attempts"] == "2"
    assert (tmp_path / "interrupted").read_text() == "run\nrun\n"
    assert ev.queue_is_empty(goat.sqs, goat.url)


@pytest.mark.parametrize("depth", [1_500, 200_000])
def test_goat_dead_letters_a_deeply_nested_body_at_once(goat: Goat, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    in_args = (
        '{"lambda_jobs":1,"id":"deep","task":"tests.runtime.sample_tasks.write_file",'
        f'"args":{nested},"kwargs":{{}},"enqueued_at":"2026-01-01T00:00:00+00:00"}}'
    )
    goat.send(nested, in_args)
    _event, result = goat.run(2)
    assert ev.failed_ids(result) == []  # never listed: SQS would deliver it again and again
    entries = ev.dead_letters(goat.sqs, goat.dlq_url, 2)
    assert sorted(e["body"] for e in entries) == sorted([nested, in_args])
    for entry in entries:
        assert entry["reason"] == "undecodable"
        assert entry["error_type"] == "lambda_jobs.errors.EnvelopeError"
        assert "nests arrays or objects deeper than this runtime decodes" in entry["error_message"]
    assert ev.queue_is_empty(goat.sqs, goat.url)


def test_lamb_runs_an_async_task_and_times_out_a_stuck_one(lamb: Lamb, tmp_path: Path) -> None:
    job = ev.envelope(R + "write_later", str(tmp_path / "out"), "awaited")
    assert lamb.invoke(job.to_dict()) == {"job_id": job.id, "outcome": "succeeded"}
    assert (tmp_path / "out").read_text() == "awaited"
    stuck = ev.envelope(R + "stuck", str(tmp_path / "stuck"))
    assert lamb.invoke(stuck.to_dict())["outcome"] == "dead_lettered"
    assert (tmp_path / "stuck").read_text() == "started\nfinally\n"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"


def test_lamb_keyboard_interrupt_is_retried_through_the_scheduler(
    lamb: Lamb, tmp_path: Path
) -> None:
    job = ev.envelope(R + "interrupt", str(tmp_path / "interrupted"))
    assert lamb.invoke(job.to_dict())["outcome"] == "retrying"  # not raised out of the handler
    assert len(lamb.schedules()) == 1
    last = ev.envelope(R + "interrupt", str(tmp_path / "interrupted"), attempt=2)
    assert lamb.invoke(last.to_dict())["outcome"] == "dead_lettered"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert entry["error_type"] == "KeyboardInterrupt"
