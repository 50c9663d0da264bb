"""``LAMBDA_JOBS_CONFIG=inline`` through the public API: ``task.enqueue(...)`` runs the job here.

Pinned behaviour: the documented inline mode (a task defined, configured ``inline``, enqueued and
run): success with the return value, retries run at once until success, exhausted → FAILED with
the error and the attempt count (the task's error never escapes), per-task timeout enforced,
takes_context gets the attempt.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from lambda_jobs import JobStatus

from tests.runtime import sample_tasks


@pytest.fixture(autouse=True)
def inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")


def test_inline_success_returns_succeeded_job_with_return_value(tmp_path: Path):
    job = sample_tasks.write_file.enqueue(str(tmp_path / "out"), "hi")
    assert job.status == JobStatus.SUCCEEDED
    assert job.return_value == "hi"
    assert job.attempts == 1
    assert job.error is None
    assert job.task_name == "tests.runtime.sample_tasks.write_file"
    assert (tmp_path / "out").read_text() == "hi"


def test_inline_retries_at_once_until_success(tmp_path: Path):
    runs = tmp_path / "runs"
    started = time.monotonic()
    job = sample_tasks.fail_until.enqueue(str(runs), 3)  # retries=2, backoff 1 s: not waited
    assert time.monotonic() - started < 1
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 3
    assert job.return_value == 3
    assert runs.read_text().splitlines() == ["run", "run", "run"]


def test_inline_exhausted_job_is_failed_with_its_error_and_never_raises(tmp_path: Path):
    job = sample_tasks.fail_until.enqueue(str(tmp_path / "runs"), 99)
    assert job.status == JobStatus.FAILED
    assert job.attempts == 3
    assert job.error == "RuntimeError: run 3 fails on purpose"
    assert job.return_value is None


def test_inline_timeout_is_enforced(tmp_path: Path):
    trace = tmp_path / "trace"
    started = time.monotonic()
    job = sample_tasks.sleep_past_timeout.enqueue(str(trace), 5)
    assert time.monotonic() - started < 2
    assert job.status == JobStatus.FAILED
    assert job.error == (
        "lambda_jobs.errors.JobTimeoutError: task tests.runtime.sample_tasks.sleep_past_timeout "
        "ran past its timeout of 0.3 s"
    )
    assert trace.read_text().splitlines() == ["started"]


def test_inline_timeout_is_not_enforced_outside_the_main_thread(tmp_path: Path):
    trace = tmp_path / "trace"
    jobs = []
    worker = threading.Thread(
        target=lambda: jobs.append(sample_tasks.sleep_past_timeout.enqueue(str(trace), 0.5))
    )
    worker.start()
    worker.join(timeout=10)
    assert jobs[0].status == JobStatus.SUCCEEDED  # documented: signals only reach the main thread
    assert trace.read_text().splitlines() == ["started", "finished"]


def test_inline_sys_exit_in_a_task_is_a_failed_attempt(tmp_path: Path):
    job = sample_tasks.exit_process.enqueue(str(tmp_path / "runs"))
    assert job.status == JobStatus.FAILED
    assert job.attempts == 4
    assert job.error == "SystemExit: 3"


def test_inline_takes_context_sees_job_identity_and_attempt(tmp_path: Path):
    out = tmp_path / "context.json"
    job = sample_tasks.record_context.enqueue(str(out))
    seen = json.loads(out.read_text())
    assert seen["job_id"] == job.id
    assert seen["attempt"] == 1
    assert seen["max_attempts"] == 5
    assert seen["remaining_seconds"] is None  # no timeout, no function deadline


def test_inline_awaits_an_async_task_and_returns_its_value(tmp_path: Path):
    from tests.runtime import runner_tasks

    job = runner_tasks.write_later.enqueue(str(tmp_path / "out"), "awaited")
    assert job.status == JobStatus.SUCCEEDED
    assert job.return_value == "awaited"
    assert (tmp_path / "out").read_text() == "awaited"


def test_inline_times_out_a_stuck_coroutine_in_any_thread(tmp_path: Path):
    from tests.runtime import runner_tasks

    jobs = []
    started = time.monotonic()
    jobs.append(runner_tasks.stuck.enqueue(str(tmp_path / "main")))
    # Off the main thread no signal reaches the job: the job's event loop keeps the time itself.
    worker = threading.Thread(
        target=lambda: jobs.append(runner_tasks.stuck.enqueue(str(tmp_path / "thread")))
    )
    worker.start()
    worker.join(10)
    assert time.monotonic() - started < 3
    for job, trace in zip(jobs, ("main", "thread"), strict=True):
        assert job.status == JobStatus.FAILED
        assert job.error == (
            "lambda_jobs.errors.JobTimeoutError: task tests.runtime.runner_tasks.stuck ran past "
            "its timeout of 0.3 s"
        )
        assert (tmp_path / trace).read_text() == "started\nfinally\n"  # cancelled where it awaited


def test_inline_cancelled_awaited_work_is_a_failed_result_not_an_exception(tmp_path: Path):
    from tests.runtime import runner_tasks

    job = runner_tasks.cancelled_inside.enqueue(str(tmp_path / "trace"))  # does not raise
    assert job.status == JobStatus.FAILED
    assert job.error == "asyncio.exceptions.CancelledError"


def test_inline_keyboard_interrupt_stops_the_caller_as_in_django(tmp_path: Path):
    from tests.runtime import runner_tasks

    with pytest.raises(KeyboardInterrupt, match="interrupted trace"):
        runner_tasks.interrupt.enqueue(str(tmp_path / "trace"))
    assert (tmp_path / "trace").read_text() == "run\n"  # not retried: the caller was stopped


def test_inline_a_function_returning_a_generator_fails_its_job() -> None:
    from lambda_jobs import task

    def wrapper() -> object:  # not a generator function itself, so @task accepts it
        return (n for n in range(3))

    job = task(name="tests.runtime.enqueue.test_inline.returns_generator")(wrapper).enqueue()
    assert job.status == JobStatus.FAILED
    assert job.error == (
        "TypeError: task tests.runtime.enqueue.test_inline.returns_generator returned a generator "
        "object, so its body never ran: a task must be a plain function or an async def function "
        "that returns its result"
    )


def test_inline_async_task_enqueued_from_a_running_event_loop(tmp_path: Path):
    import asyncio

    from lambda_jobs import Job

    from tests.runtime import runner_tasks

    async def caller() -> Job:  # a loop already runs in this thread: the job gets its own
        return runner_tasks.write_later.enqueue(str(tmp_path / "out"), "nested")

    job = asyncio.run(caller())
    assert job.status == JobStatus.SUCCEEDED
    assert job.return_value == "nested"
    assert (tmp_path / "out").read_text() == "nested"
