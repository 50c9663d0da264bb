"""``task.enqueue()`` of a Django task sends a lambda-jobs job to Goat (moto over HTTP).

The backend is the test project's default (``lambda_jobs.django.LambdaJobsBackend``, client config
from ``LAMBDA_JOBS_CONFIG``); the queues are the runtime tests' Goat backend in moto.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lambda_jobs import envelope
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.django.conftest import use_config_env
from tests.django.djapp import receivers
from tests.runtime.enqueue_backends import GoatBackend


@pytest.fixture
def goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> GoatBackend:
    backend = GoatBackend(moto)
    use_config_env(monkeypatch, backend.document())
    return backend


def body_of(message: dict[str, Any]) -> envelope.Envelope:
    return envelope.from_json(message["Body"])


def test_enqueue_sends_envelope_with_module_path_and_returns_ready_result(
    goat: GoatBackend, signal_log: Any
) -> None:
    from django.tasks import TaskResultStatus

    from tests.django.djapp.tasks import write_text

    before = datetime.now(UTC)
    result = write_text.enqueue("/tmp/x", text="hello")

    (message,) = goat.receive(goat.low_url, 1)
    body = body_of(message)
    assert body.task == "tests.django.djapp.tasks.write_text"
    assert (body.args, body.kwargs) == (["/tmp/x"], {"text": "hello"})
    assert (body.queue, body.priority, body.attempt, body.run_after) == ("default", 0, 1, None)
    # Backend defaults travel as overrides, so the worker runs exactly these options.
    assert body.overrides == {
        "retries": 0,
        "retry_backoff": 5.0,
        "retry_backoff_max": 3600.0,
        "retry_jitter": True,
    }
    assert result.id == body.id
    assert result.status == TaskResultStatus.READY
    assert result.backend == "default"
    assert result.task is write_text
    assert (result.args, result.kwargs) == (["/tmp/x"], {"text": "hello"})
    # The envelope's time to the millisecond (the one the job sees): up to 1 ms before ``before``.
    assert result.enqueued_at is not None
    assert before - timedelta(milliseconds=1) < result.enqueued_at <= datetime.now(UTC)
    assert (result.started_at, result.finished_at, result.worker_ids) == (None, None, [])
    assert receivers.read(str(signal_log)) == [
        {
            "signal": "task_enqueued",
            "sender": "LambdaJobsBackend",
            "id": result.id,
            "task": "tests.django.djapp.tasks.write_text",
            "status": "READY",
            "attempts": 0,
            "errors": [],
        }
    ]


def test_enqueue_priority_picks_the_lane_and_task_options_travel_as_overrides(
    goat: GoatBackend,
) -> None:
    from tests.django.djapp.tasks import flaky, write_text

    write_text.using(priority=75).enqueue("/tmp/a", "b")
    flaky.enqueue("/tmp/f", 2)

    (high,) = goat.receive(goat.high_url, 1)
    assert (body_of(high).task, body_of(high).priority) == (
        "tests.django.djapp.tasks.write_text",
        75,
    )
    (low,) = goat.receive(goat.low_url, 1)
    assert body_of(low).overrides == {
        "retries": 2,
        "retry_backoff": 1.0,
        "retry_backoff_max": 3600.0,
        "retry_jitter": True,
        "timeout": 30.0,
    }


def test_enqueue_to_fifo_queue_declared_on_the_task(goat: GoatBackend) -> None:
    from tests.django.djapp.tasks import record_order

    result = record_order.enqueue("/tmp/o", {"id": 7})

    (message,) = goat.receive(goat.fifo_url, 1)
    assert body_of(message).id == result.id
    assert (body_of(message).queue, body_of(message).priority) == ("orders", 60)
    assert message["Attributes"]["MessageGroupId"] == "tests.django.djapp.tasks.record_order"


def test_enqueue_with_run_after_delays_the_message(goat: GoatBackend) -> None:
    from django.utils import timezone

    from tests.django.djapp.tasks import write_text

    when = timezone.now() + timedelta(seconds=120)
    result = write_text.using(run_after=when).enqueue("/tmp/d", "later")

    assert goat.counts(goat.low_url)["ApproximateNumberOfMessagesDelayed"] == 1
    assert goat.visible_now(goat.low_url) == []
    assert result.task.run_after == when


def test_enqueue_with_run_after_already_past_runs_now(goat: GoatBackend) -> None:
    from django.utils import timezone

    from tests.django.djapp.tasks import write_text

    past = write_text.using(run_after=timezone.now() - timedelta(minutes=5))
    past.enqueue("/tmp/p", "now")

    (message,) = goat.receive(goat.low_url, 1)
    assert body_of(message).run_after is None


def test_enqueue_after_commit_with_on_commit_sends_only_when_the_transaction_commits(
    goat: GoatBackend,
) -> None:
    from django.db import transaction

    from tests.django.djapp.tasks import write_text

    results: list[Any] = []
    with transaction.atomic():
        transaction.on_commit(lambda: results.append(write_text.enqueue("/tmp/c", "committed")))
        assert goat.visible_now(goat.low_url) == []
    (message,) = goat.receive(goat.low_url, 1)
    assert body_of(message).id == results[0].id

    with pytest.raises(RuntimeError), transaction.atomic():
        transaction.on_commit(lambda: results.append(write_text.enqueue("/tmp/r", "rolled back")))
        raise RuntimeError("roll back")
    assert len(results) == 1
    assert goat.visible_now(goat.low_url) == []


def test_aenqueue_sends_a_job_too(goat: GoatBackend) -> None:
    import asyncio

    from tests.django.djapp.tasks import write_text_async

    result = asyncio.run(write_text_async.aenqueue("/tmp/async", "x"))

    (message,) = goat.receive(goat.low_url, 1)
    assert body_of(message).id == result.id
    assert body_of(message).task == "tests.django.djapp.tasks.write_text_async"


def test_supports_get_result_reads_an_ssm_configuration_before_any_enqueue(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tasks_setting: Any
) -> None:
    """With ``ssm:`` the flag fetches the configuration: True with a job store, False without."""
    import json
    import uuid

    from lambda_jobs.django import LambdaJobsBackend

    from tests.conftest import boto_client

    backend = GoatBackend(moto)
    ssm = boto_client(moto, "ssm")
    for store, expected in (({"table": "jobs", "ttl_seconds": 3600}, True), (None, False)):
        name = f"/lambda-jobs/{uuid.uuid4()}/client-config"
        document = backend.document(job_store=store) if store else backend.document()
        ssm.put_parameter(Name=name, Value=json.dumps(document), Type="String")
        jobs = LambdaJobsBackend("jobs", {"OPTIONS": {"config": f"ssm:{name}"}})
        assert jobs.supports_get_result is expected
    missing = LambdaJobsBackend("jobs", {"OPTIONS": {"config": "ssm:/lambda-jobs/missing"}})
    assert missing.supports_get_result is False
