"""The job store under ``lambda-jobs local`` (real moto DynamoDB, the handler under awslambdaric).

Both demo stacks have ``job_store=JobStore(...)``: the emulator created their tables from the
template. Each test enqueues through the public client and reads the store through
``lambda_jobs.get_job`` / ``Job.refresh``, the function's log lines (the emulator's log) and what
the demo tasks wrote.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs.envelope import Envelope

from tests.e2e.conftest import OPERATOR_ROLE, Backend, deliver_again, demo_tasks, poll

pytestmark = pytest.mark.e2e


def job_lines(backend: Backend, job_id: str) -> list[dict[str, Any]]:
    """The function's ``lambda_jobs.job`` log lines of ``job_id`` (from the emulator's log)."""
    found = []
    for line in backend.emulator.log_path.read_text(encoding="utf-8").splitlines():
        start = line.find('{"type": "lambda_jobs.job"')
        if start < 0:
            continue
        entry = json.loads(line[start:])
        if entry.get("id") == job_id:
            found.append(entry)
    return found


def finished(job: lambda_jobs.Job, timeout: float = 30) -> lambda_jobs.Job:
    poll(
        lambda: job.refresh().status in ("succeeded", "failed", "cancelled"),
        timeout=timeout,
        what=f"job {job.id} to finish",
    )
    return job


def scheduler_client(backend: Backend) -> Any:
    import boto3

    return boto3.client(
        "scheduler",
        endpoint_url=backend.config["endpoints"]["scheduler"],
        region_name=backend.config["region"],
        aws_access_key_id=OPERATOR_ROLE,  # looks as an operator does (IAM: grant_operate)
        aws_secret_access_key="testing",
    )


def name() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


def test_status_result_and_times_are_recorded(backend: Backend) -> None:
    who = name()
    job = demo_tasks.hello.using(run_after=timedelta(seconds=2)).enqueue(who)
    assert lambda_jobs.get_job(job.id).status == "enqueued"  # just enqueued, still delayed
    finished(job)
    assert job.status == "succeeded"
    assert job.return_value == f"Hello, {who}!"
    assert job.attempts == 1 and len(job.worker_ids) == 1
    assert job.started_at is not None and job.finished_at is not None
    assert job.enqueued_at <= job.started_at <= job.finished_at
    failing = finished(demo_tasks.failing.enqueue(f"boom {who}"))
    assert failing.status == "failed" and failing.attempts == 2
    assert failing.error == f"RuntimeError: boom {who}"
    assert "raise RuntimeError(message)" in (failing.error_traceback or "")


def test_unknown_id_is_a_clear_error(backend: Backend) -> None:
    with pytest.raises(lambda_jobs.UnknownJobError, match="no job 'nope' in the job store"):
        lambda_jobs.get_job("nope")
    with pytest.raises(lambda_jobs.UnknownJobError, match="no job 'nope'"):
        lambda_jobs.cancel_job("nope")


def test_a_duplicate_delivery_of_a_finished_job_is_skipped(backend: Backend) -> None:
    who = name()
    job = finished(demo_tasks.hello.enqueue(who))
    # Deliver the same job again, as SQS or Lambda's async queue may.
    envelope = Envelope(
        id=job.id, task=job.task_name, args=[who], enqueued_at=datetime.now(UTC)
    ).to_json()
    deliver_again(backend, envelope)
    skipped = poll(
        lambda: [x for x in job_lines(backend, job.id) if x["outcome"] == "skipped_duplicate"],
        timeout=20,
        what="the duplicate to be skipped",
    )
    assert skipped[0]["level"] == "INFO"
    assert len(backend.events(task="hello", greeting=f"Hello, {who}!")) == 1  # ran once
    assert job.refresh().attempts == 1  # the duplicate used up no attempt


def test_cancel_a_job_that_has_not_started(backend: Backend) -> None:
    who = name()
    job = demo_tasks.hello.using(run_after=timedelta(seconds=2)).enqueue(who)
    cancelled = lambda_jobs.cancel_job(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    if backend.name == "goat":  # SQS holds the delayed message: the worker acknowledges it
        poll(
            lambda: [x for x in job_lines(backend, job.id) if x["outcome"] == "cancelled"],
            timeout=20,
            what="the worker to acknowledge the cancelled job",
        )
        assert not backend.events(task="hello", greeting=f"Hello, {who}!")  # never ran
    else:  # the schedule carrying it is deleted by the cancel (tests/e2e/test_delayed.py)
        group = backend.config["scheduler"]["group"]
        listed = scheduler_client(backend).list_schedules(GroupName=group)["Schedules"]
        assert f"lj-{job.id}-a1" not in {s["Name"] for s in listed}
    with pytest.raises(lambda_jobs.JobStateError, match="is already cancelled"):
        lambda_jobs.cancel_job(job.id)


def test_cancelling_a_running_job_is_refused(backend: Backend) -> None:
    seconds = 1.5 + uuid.uuid4().int % 1000 / 100000
    job = demo_tasks.slow.using(priority=0).enqueue(seconds)
    poll(
        lambda: backend.events(task="slow", seconds=seconds, event="started"),
        timeout=20,
        what="the job to start",
    )
    poll(lambda: job.refresh().status == "running", timeout=10, what="the store to say running")
    with pytest.raises(lambda_jobs.JobStateError, match=r"is running .*cannot be cancelled"):
        lambda_jobs.cancel_job(job.id)


def test_unique_key_is_held_while_pending_and_released_when_executed(backend: Backend) -> None:
    key = f"report-{uuid.uuid4().hex[:8]}"
    unique = demo_tasks.hello.using(
        unique_key=key, unique_for=timedelta(minutes=5), run_after=timedelta(seconds=2)
    )
    first = unique.enqueue("first")
    second = unique.enqueue("second")
    assert not first.existing
    assert second.existing and second.id == first.id and second.status == "enqueued"
    finished(first)
    assert first.return_value == "Hello, first!"
    assert not backend.events(task="hello", greeting="Hello, second!")  # never sent
    # Released on completion (the default, until executed): the next job is new.
    third = demo_tasks.hello.using(unique_key=key, unique_for=60).enqueue("third")
    assert not third.existing and third.id != first.id
    assert finished(third).return_value == "Hello, third!"


def test_unique_key_until_expired_holds_after_completion(backend: Backend) -> None:
    key = f"daily-{uuid.uuid4().hex[:8]}"
    once = demo_tasks.hello.using(unique_key=key, unique_for=60, unique_until="expired")
    first = finished(once.enqueue("once"))
    again = once.enqueue("again")
    assert again.existing and again.id == first.id and again.status == "succeeded"


def test_an_async_task_runs_to_completion_and_its_result_is_stored(backend: Backend) -> None:
    who = name()
    job = finished(demo_tasks.hello_later.enqueue(who))
    assert job.status == "succeeded", job.error
    assert job.return_value == f"Hello later, {who}!"  # the awaited value, not a coroutine
    assert len(backend.events(task="hello_later", greeting=f"Hello later, {who}!")) == 1
