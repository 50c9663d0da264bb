"""With the ``inline`` client configuration a Django task runs in-process at enqueue.

It goes through ``lambda_jobs.enqueue.inline`` (the handler's own attempt runner): retries run at
once, the Django ``TaskContext.attempt`` counts them, the signals come in Django's order and the
returned ``TaskResult`` carries the outcome, as with Django's ImmediateBackend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.django.djapp import receivers

BACKEND = "lambda_jobs.django.LambdaJobsBackend"


@pytest.fixture(autouse=True)
def inline_backend(tasks_setting: Callable[[dict[str, Any]], None]) -> None:
    tasks_setting({"default": {"BACKEND": BACKEND, "OPTIONS": {"config": "inline"}}})


def test_inline_enqueue_runs_the_task_and_returns_its_outcome(
    tmp_path: Path, signal_log: Path
) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.tasks import write_text

    target = tmp_path / "out.txt"
    result = write_text.enqueue(str(target), "inline!")

    assert target.read_text() == "inline!"
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "inline!"
    assert result.attempts == 1
    assert result.enqueued_at is not None and result.finished_at is not None
    lines = receivers.read(str(signal_log))
    assert [(line["signal"], line["status"]) for line in lines] == [
        ("task_enqueued", "READY"),
        ("task_started", "RUNNING"),
        ("task_finished", "SUCCESSFUL"),
    ]
    assert {line["id"] for line in lines} == {result.id}


def test_inline_retries_pass_the_real_attempt_in_task_context(
    tmp_path: Path, signal_log: Path
) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.tasks import flaky

    log = tmp_path / "attempts.txt"
    result = flaky.enqueue(str(log), 3)

    assert log.read_text().splitlines() == [f"{n}:{result.id}" for n in (1, 2, 3)]
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 3
    assert [e.exception_class_path for e in result.errors] == ["builtins.RuntimeError"] * 2
    finished = [
        line for line in receivers.read(str(signal_log)) if line["signal"] != "task_started"
    ]
    assert [(line["signal"], line["status"], line["attempts"]) for line in finished] == [
        ("task_enqueued", "READY", 0),
        ("task_finished", "FAILED", 1),
        ("task_finished", "FAILED", 2),
        ("task_finished", "SUCCESSFUL", 3),
    ]


def test_inline_exhausted_retries_leave_a_failed_result(tmp_path: Path) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.tasks import flaky

    log = tmp_path / "attempts.txt"
    result = flaky.enqueue(str(log), 10)  # retries=2: three attempts, all fail

    assert len(log.read_text().splitlines()) == 3
    assert result.status == TaskResultStatus.FAILED
    assert "attempt 3 fails on purpose" in result.errors[-1].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018 (the property raises)


def test_inline_async_task_runs_to_completion(tmp_path: Path) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.tasks import write_text_async

    target = tmp_path / "async.txt"
    result = write_text_async.enqueue(str(target), "awaited")

    assert target.read_text() == "awaited"
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_inline_cancelled_awaited_work_is_failed_as_with_the_immediate_backend(
    tmp_path: Path, tasks_setting: Callable[[dict[str, Any]], None]
) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.cancelling import cancelled_async

    tasks_setting(
        {
            "default": {"BACKEND": BACKEND, "OPTIONS": {"config": "inline"}},
            "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
        }
    )
    ours = cancelled_async.enqueue(str(tmp_path / "ours"))  # returns, does not raise
    theirs = cancelled_async.using(backend="immediate").enqueue(str(tmp_path / "theirs"))
    for result in (ours, theirs):
        assert result.status == TaskResultStatus.FAILED
        [error] = result.errors
        assert error.exception_class_path == "asyncio.exceptions.CancelledError"
    assert (tmp_path / "ours").read_text() == (tmp_path / "theirs").read_text() == "awaiting"


def test_inline_async_task_is_stopped_at_its_timeout_off_the_main_thread(tmp_path: Path) -> None:
    """``aenqueue`` runs ``enqueue`` in a worker thread, where no signal reaches the task: the
    worker's coroutine runner still cancels it at its timeout (as the handler does), so the awaited
    work sees ``CancelledError`` and the attempt fails with ``JobTimeoutError``."""
    import asyncio
    import time

    from django.tasks import TaskResultStatus

    from tests.django.djapp.cancelling import outlives_its_timeout

    target = tmp_path / "ended"
    started = time.monotonic()
    result = asyncio.run(outlives_its_timeout.aenqueue(str(target)))

    assert time.monotonic() - started < 10
    assert target.read_text() == "cancelled"
    assert result.status == TaskResultStatus.FAILED
    assert [e.exception_class_path for e in result.errors] == ["lambda_jobs.errors.JobTimeoutError"]
