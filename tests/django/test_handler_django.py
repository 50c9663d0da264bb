"""The handler runs Django tasks (``DJANGO_SETTINGS_MODULE`` set) from real SQS batches.

Jobs are enqueued with ``task.enqueue()`` into a Goat backend in moto; the SQS batch event is built
from the real received messages (``tests.runtime.lambda_events``). The first test runs the real
handler in a fresh process (a true cold start: ``worker.setup()`` from ``DJANGO_SETTINGS_MODULE``,
``register_tasks`` after importing ``LAMBDA_JOBS_TASKS``); the others call the handler's
``lambda_jobs.worker.dispatch.dispatch`` in-process with a ``cold_start`` runtime.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.django.conftest import REPO_ROOT, SETTINGS_MODULE, subprocess_env, use_config_env
from tests.django.djapp import receivers
from tests.runtime import lambda_events
from tests.runtime.enqueue_backends import GoatBackend

TASKS_MODULE = "tests.django.djapp.tasks"


@pytest.fixture
def goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> GoatBackend:
    backend = GoatBackend(moto)
    use_config_env(monkeypatch, backend.document())
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", backend.dlq_url)
    return backend


@pytest.fixture
def runtime(goat: GoatBackend) -> Any:
    """A cold start with Django, as the handler does it; tests pass it to the handler's dispatch."""
    from lambda_jobs.worker.coldstart import cold_start

    return cold_start(
        {"LAMBDA_JOBS_TASKS": TASKS_MODULE, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
    )


def low_lane_event(goat: GoatBackend, count: int) -> dict[str, Any]:
    return lambda_events.sqs_event(goat.sqs, goat.low_url, goat.low_arn, count)


def test_handler_cold_start_runs_django_task_and_dead_letters_task_outside_allowed_modules(
    goat: GoatBackend, tmp_path: Path, signal_log: Path
) -> None:
    from tests.django.djapp.outside import not_allowed
    from tests.django.djapp.tasks import write_text

    written, forbidden = tmp_path / "written.txt", tmp_path / "forbidden.txt"
    ran = write_text.enqueue(str(written), "from the handler")
    refused = not_allowed.enqueue(str(forbidden))
    event = low_lane_event(goat, 2)
    signal_log.unlink(missing_ok=True)  # keep only what the handler process records

    result_file = tmp_path / "result.json"
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        LAMBDA_JOBS_TASKS=TASKS_MODULE,
        LAMBDA_JOBS_BACKEND="goat",
    )
    env.pop("LAMBDA_JOBS_CONFIG")  # the function needs no client configuration
    completed = subprocess.run(
        [sys.executable, "-m", "tests.django.run_handler", str(result_file)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(result_file.read_text()) == {"batchItemFailures": []}
    assert written.read_text() == "from the handler"
    assert not forbidden.exists()
    (dead,) = lambda_events.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert (dead["reason"], dead["task"], dead["job_id"]) == (
        "unknown_task",
        "tests.django.djapp.outside.not_allowed",
        refused.id,
    )
    assert TASKS_MODULE in dead["error_message"]
    signals = [
        (s["signal"], s["id"], s["status"], s["attempts"], s["sender"])
        for s in receivers.read(str(signal_log))
    ]
    assert signals == [
        ("task_started", ran.id, "RUNNING", 1, "LambdaJobsBackend"),
        ("task_finished", ran.id, "SUCCESSFUL", 1, "LambdaJobsBackend"),
    ]


def test_handler_retry_passes_the_real_attempt_to_task_context(
    goat: GoatBackend, runtime: Any, tmp_path: Path, signal_log: Path
) -> None:
    from lambda_jobs.worker.dispatch import dispatch

    from tests.django.djapp.tasks import flaky

    log = tmp_path / "attempts.txt"
    job = flaky.enqueue(str(log), 2)  # retries=2, retry_backoff=1 s: fails once, then succeeds

    first = low_lane_event(goat, 1)
    answer = dispatch(first, lambda_events.Context(), runtime)
    assert lambda_events.failed_ids(answer) == []  # the retry is a copy, delayed by the backoff
    lambda_events.settle(goat.sqs, goat.low_url, first, answer)

    second = low_lane_event(goat, 1)  # the copy, after the backoff (polled, no sleep)
    assert json.loads(second["Records"][0]["body"])["attempt"] == 2
    answer = dispatch(second, lambda_events.Context(), runtime)
    assert answer == {"batchItemFailures": []}
    lambda_events.settle(goat.sqs, goat.low_url, second, answer)

    assert log.read_text().splitlines() == [f"1:{job.id}", f"2:{job.id}"]
    assert lambda_events.queue_is_empty(goat.sqs, goat.low_url)
    lines = [line for line in receivers.read(str(signal_log)) if line["signal"] != "task_enqueued"]
    assert [(line["signal"], line["status"], line["attempts"]) for line in lines] == [
        ("task_started", "RUNNING", 1),
        ("task_finished", "FAILED", 1),
        ("task_started", "RUNNING", 2),
        ("task_finished", "SUCCESSFUL", 2),
    ]
    assert lines[1]["errors"] == ["builtins.RuntimeError"]


def test_handler_runs_async_django_task_from_lamb_payload(
    goat: GoatBackend, runtime: Any, tmp_path: Path
) -> None:
    from lambda_jobs.worker.dispatch import dispatch

    target = tmp_path / "async.txt"
    envelope = lambda_events.envelope(f"{TASKS_MODULE}.write_text_async", str(target), "awaited")

    answer = dispatch(envelope.to_dict(), lambda_events.Context(), runtime)

    assert answer == {"job_id": envelope.id, "outcome": "succeeded"}
    assert target.read_text() == "awaited"


def test_handler_stops_django_task_at_its_declared_timeout(
    goat: GoatBackend, runtime: Any, tmp_path: Path, signal_log: Path
) -> None:
    from lambda_jobs.worker.dispatch import dispatch

    from tests.django.djapp.tasks import sleepy

    job = sleepy.enqueue(30)  # @task(timeout=0.5): the handler interrupts it
    event = low_lane_event(goat, 1)
    assert json.loads(event["Records"][0]["body"])["overrides"]["timeout"] == 0.5

    started = time.monotonic()
    answer = dispatch(event, lambda_events.Context(), runtime)

    assert time.monotonic() - started < 10
    assert answer == {"batchItemFailures": []}  # no retries left: dead-lettered, acknowledged
    (dead,) = lambda_events.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert (dead["reason"], dead["job_id"]) == ("exhausted", job.id)
    assert dead["error_type"] == "lambda_jobs.errors.JobTimeoutError"
    finished = [
        line for line in receivers.read(str(signal_log)) if line["signal"] == "task_finished"
    ]
    assert [(line["status"], line["errors"]) for line in finished] == [
        ("FAILED", ["lambda_jobs.errors.JobTimeoutError"])
    ]


def test_handler_closes_database_connections_a_django_task_opened(
    goat: GoatBackend, runtime: Any
) -> None:
    from django.db import connections
    from lambda_jobs.worker.dispatch import dispatch

    envelope = lambda_events.envelope(f"{TASKS_MODULE}.query_files_database")
    answer = dispatch(envelope.to_dict(), lambda_events.Context(), runtime)

    assert answer == {"job_id": envelope.id, "outcome": "succeeded"}
    # CONN_MAX_AGE 0: the connection the job opened is obsolete and closed after the job, as
    # Django closes a request's connections; a frozen Lambda environment keeps no dead one.
    assert connections["files"].connection is None


def test_task_result_inside_the_function_is_the_task_as_enqueued_and_the_request_id(
    goat: GoatBackend, runtime: Any, tmp_path: Path
) -> None:
    from lambda_jobs.worker.dispatch import dispatch

    from tests.django.djapp.tasks import describe_task

    seen = tmp_path / "seen.json"
    describe_task.using(priority=75).enqueue(str(seen))  # the high lane: 50..100
    event = lambda_events.sqs_event(goat.sqs, goat.high_url, goat.high_arn, 1)

    invocation = lambda_events.Context()

    answer = dispatch(event, invocation, runtime)

    assert answer == {"batchItemFailures": []}
    assert json.loads(seen.read_text()) == {
        "priority": 75,
        "queue_name": "default",
        "backend": "default",
        "worker_ids": [invocation.aws_request_id],  # what the job store records per attempt
    }


def test_cold_start_warns_about_a_task_whose_backend_is_not_lambda_jobs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lambda_jobs.django import worker

    worker.register_tasks([TASKS_MODULE])

    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    (warning,) = [x for x in lines if x.get("type") == "lambda_jobs.coldstart"]
    assert warning["level"] == "WARNING"
    assert warning["task"] == f"{TASKS_MODULE}.on_immediate_backend"
    assert warning["setting"] == "TASKS['immediate']['BACKEND']"
    assert warning["message"] == (
        f"Django task {TASKS_MODULE}.on_immediate_backend is not registered: in this function's "
        "settings its backend TASKS['immediate']['BACKEND'] is "
        "django.tasks.backends.immediate.ImmediateBackend, not "
        "lambda_jobs.django.LambdaJobsBackend, so its jobs are dead-lettered as unknown_task; "
        "make the settings choose LambdaJobsBackend in the function too"
    )


def test_register_tasks_takes_only_lambda_jobs_tasks_defined_in_the_given_modules() -> None:
    import importlib

    from lambda_jobs import registry
    from lambda_jobs.django import worker
    from lambda_jobs.django.runner import DjangoTaskRunner

    module = importlib.import_module(TASKS_MODULE)
    names = worker.register_tasks([module, "tests.django.djapp.receivers"])

    assert sorted(names) == [
        f"{TASKS_MODULE}.add_two",
        f"{TASKS_MODULE}.add_two_unchecked",
        f"{TASKS_MODULE}.describe_task",
        f"{TASKS_MODULE}.flaky",
        f"{TASKS_MODULE}.query_files_database",
        f"{TASKS_MODULE}.record_order",
        f"{TASKS_MODULE}.sleepy",
        f"{TASKS_MODULE}.write_text",
        f"{TASKS_MODULE}.write_text_async",
    ]  # not on_immediate_backend (another backend), nothing from receivers
    registered = registry.get(f"{TASKS_MODULE}.flaky")
    assert registered is not None and isinstance(registered.func, DjangoTaskRunner)
    assert (registered.retries, registered.timeout, registered.takes_context) == (2, 30.0, True)
    assert worker.register_tasks([TASKS_MODULE]) == names  # again: harmless
    assert registry.get("tests.django.djapp.outside.not_allowed") is None
