"""Lamb under ``lambda-jobs local`` with the job store (issue 29): duplicate deliveries of a job
that waits for its retry, sizes measured as AWS measures them, and ``remaining_seconds()``.

- A copy of an earlier delivery that arrives while the job is ``retrying`` is acknowledged without
  running and without using an attempt; only the retry's schedule (which carries the store's
  attempt + 1) runs the job again, so duplicates never start a second retry chain.
- Non-ASCII arguments count as their UTF-8 bytes against EventBridge Scheduler's 256 KB (a delay,
  a retry) and a crashed job's on-failure destination record is sent as AWS sends it, UTF-8, so a
  job at the client's limit still reaches the dead-letter queue.
- ``JobContext.remaining_seconds()`` of a task without a timeout is the function's deadline less
  ``LAMBDA_JOBS_DEADLINE_MARGIN_MS``.
"""

from __future__ import annotations

import importlib
import itertools
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from lambda_jobs import aws, get_job
from lambda_jobs.contract import DEFAULT_MAX_PAYLOAD, SQS_MAX_MESSAGE_BYTES
from lambda_jobs.envelope import Envelope
from lambda_jobs.jsoncodec import wire_json, wire_size
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import (
    ASYNC_RETRY_SCALE,
    Backend,
    deliver_again,
    demo_tasks,
    poll,
    synthesize,
)
from tests.e2e.lamb_app import FUNCTION_TIMEOUT_S, LAMB_PROJECT, LAMB_STACK
from tests.e2e.test_job_store import job_lines

pytestmark = pytest.mark.e2e

if str(LAMB_PROJECT) not in sys.path:
    sys.path.insert(0, str(LAMB_PROJECT))
#: The tasks module under the name the function registers it by (``lamb_tasks``).
lamb_tasks: Any = importlib.import_module("lamb_tasks")

#: The tasks' retry backoff (``flaky``: 3 s, no jitter).
BACKOFF_S = 3


@pytest.fixture(scope="module")
def lamb_store_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    directory = tmp_path_factory.mktemp("lamb-store")
    app = synthesize(directory / "cdk.out", app="python -m tests.e2e.lamb_app")
    log = directory / "lamb-runs.jsonl"
    with EmulatorProcess(
        app,
        log_path=directory / "emulator.log",
        extra_args=[
            "--stack",
            LAMB_STACK,
            "--async-retry-scale",
            ASYNC_RETRY_SCALE,
            "--env",
            f"LAMB_LOG={log}",
        ],
    ) as emulator:
        yield Backend("lamb", emulator, log)


@pytest.fixture
def lamb(lamb_store_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", lamb_store_backend.config_value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset()
    yield lamb_store_backend
    aws.reset()


def key() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


def original(job_id: str, task: str, *args: Any) -> Envelope:
    """The envelope of the job's first delivery (attempt 1), as the client sent it."""
    return Envelope(id=job_id, task=task, args=list(args), enqueued_at=datetime.now(UTC))


def runs(backend: Backend, task: str, job_key: str) -> list[dict[str, Any]]:
    return backend.events(task=task, key=job_key)


def succeeded(job_id: str) -> bool:
    return get_job(job_id).status == "succeeded"


def test_duplicates_during_each_retry_wait_use_no_attempt_and_start_no_second_chain(
    lamb: Backend,
) -> None:
    job_key = key()
    job = lamb_tasks.flaky.enqueue(job_key, 3)  # fails attempts 1 and 2, succeeds on 3
    first = original(job.id, "lamb_tasks.flaky", job_key, 3)
    for failed in (1, 2):

        def waiting(failed: int = failed) -> bool:
            found = get_job(job.id)
            return found.status == "retrying" and found.attempts == failed

        def acknowledged(failed: int = failed) -> bool:
            copies = [x for x in job_lines(lamb, job.id) if x.get("retry_pending")]
            return len(copies) >= 2 * failed

        poll(waiting, timeout=30, what=f"attempt {failed} to fail and wait for its retry")
        # Two copies of the first delivery, while the job waits for its retry.
        deliver_again(lamb, first.to_json())
        deliver_again(lamb, first.to_json())
        poll(acknowledged, timeout=20, what="the copies to be acknowledged without running")
        assert get_job(job.id).attempts == failed  # the copies used up no attempt
    poll(lambda: get_job(job.id).status == "succeeded", timeout=30, what="the job to succeed")
    done = runs(lamb, "flaky", job_key)
    assert [(run["attempt"], run["outcome"]) for run in done] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    # One chain: each attempt waited for its backoff (schedules fire on whole seconds).
    for before, after in itertools.pairwise(done):
        assert after["at"] - before["at"] >= BACKOFF_S - 0.5, done
    assert get_job(job.id).attempts == 3
    skipped = [x for x in job_lines(lamb, job.id) if x["outcome"] == "skipped_duplicate"]
    assert len(skipped) == 4 and all(x["retry_pending"] for x in skipped)
    assert lamb.dead_letter_for(job.id) is None


def test_non_ascii_arguments_count_as_utf8_against_schedulers_256_kb(lamb: Backend) -> None:
    blob = "é" * 100_000  # 200,000 UTF-8 bytes: under 256 KB only when counted as sent
    delayed_key, retried_key = key(), key()
    delayed = lamb_tasks.flaky.using(run_after=timedelta(seconds=1)).enqueue(delayed_key, 1, blob)
    retried = lamb_tasks.flaky.enqueue(retried_key, 2, blob)  # its retry is a schedule too
    for job in (delayed, retried):
        poll(partial(succeeded, job.id), timeout=40, what="the job to succeed")
    assert [run["attempt"] for run in runs(lamb, "flaky", delayed_key)] == [1]
    assert [(run["attempt"], run["blob"]) for run in runs(lamb, "flaky", retried_key)] == [
        (1, 100_000),
        (2, 100_000),
    ]
    assert lamb.dead_letter_for(retried.id) is None


def test_goat_schedule_input_with_non_ascii_arguments_counts_as_utf8(goat: Backend) -> None:
    """The same measure on Goat: a delayed job on a FIFO lane (a schedule carries it) with
    200,000 bytes of "é" fits Scheduler's 256 KB and runs."""
    who = "é" * 100_000 + uuid.uuid4().hex[:8]
    demo_tasks.hello.using(queue_name="ordered", run_after=timedelta(seconds=1)).enqueue(who)
    poll(
        partial(goat.events, task="hello", greeting=f"Hello, {who}!"),
        timeout=40,
        what="the delayed job to run",
    )


def _blob_for_envelope_of(size: int, job_key: str) -> str:
    """A ``crash`` argument of "é"s (and one "a" if needed) whose envelope is ``size`` bytes."""
    probe = Envelope(
        id=str(uuid.uuid4()),
        task="lamb_tasks.crash",
        args=[job_key, ""],
        enqueued_at=datetime.now(UTC),
    )
    room = size - wire_size(probe.to_json())
    return "é" * (room // 2) + "a" * (room % 2)


def test_a_crashed_job_with_large_non_ascii_arguments_reaches_the_dlq(lamb: Backend) -> None:
    keys = {key(): "é" * 200_000, key(): ""}  # 400,000 UTF-8 bytes, and an envelope at the limit
    at_limit = next(k for k, blob in keys.items() if not blob)
    keys[at_limit] = _blob_for_envelope_of(DEFAULT_MAX_PAYLOAD, at_limit)
    jobs = {job_key: lamb_tasks.crash.enqueue(job_key, blob) for job_key, blob in keys.items()}
    records: dict[str, dict[str, Any]] = {}
    for job_key, job in jobs.items():
        # Lambda's three tries all crash; the record then goes to the on-failure destination.
        message = poll(partial(lamb.dead_letter_for, job.id), timeout=60, what="the DLQ record")
        records[job_key] = record = json.loads(message["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestPayload"]["args"] == [job_key, keys[job_key]]
        assert record["responseContext"]["functionError"] == "Unhandled"
        size = wire_size(message["Body"])
        assert size < SQS_MAX_MESSAGE_BYTES
        assert [run["attempt"] for run in runs(lamb, "crash", job_key)] == [1, 2, 3]
    # The record holds the envelope as sent, at exactly the client's limit.
    assert wire_size(wire_json(records[at_limit]["requestPayload"])) == DEFAULT_MAX_PAYLOAD


def test_remaining_seconds_is_the_deadline_less_the_margin(lamb: Backend) -> None:
    plain, limited = key(), key()
    lamb_tasks.remaining.enqueue(plain)
    lamb_tasks.remaining_with_timeout.enqueue(limited)
    (without,) = poll(lambda: runs(lamb, "remaining", plain), timeout=30, what="the first run")
    (with_timeout,) = poll(lambda: runs(lamb, "remaining", limited), timeout=30, what="the run")
    margin_s = 2.0  # LAMBDA_JOBS_DEADLINE_MARGIN_MS's default
    assert FUNCTION_TIMEOUT_S - margin_s - 1.5 < without["seconds"] <= FUNCTION_TIMEOUT_S - margin_s
    assert 2.0 < with_timeout["seconds"] <= 3.0
