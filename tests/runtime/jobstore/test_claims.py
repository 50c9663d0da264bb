"""The worker half of the job store against real moto DynamoDB and SQS (in-process handler).

Pinned behaviour: a delivery of a job that already finished is acknowledged without running
(``skipped_duplicate``) and uses up no attempt; one running under another request's live lease is
hidden until the lease ends and listed (``deferred``); a return value that is not JSON or over
64 KiB is stored as an error that says so, the job still succeeded; a store that is missing, or
goes down in the middle of a batch, never stops a job: every record runs and is settled as
without the store, and its log line carries ``store_error``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs.contract import FAILURES_INDEX
from lambda_jobs.jobstore import schema
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime import lambda_events as ev
from tests.runtime.job_table import TABLE, make_table
from tests.runtime.worker.test_goat import Goat, T


def item(dynamodb: Any, job_id: str) -> dict[str, Any]:
    found = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": job_id}}, ConsistentRead=True)
    return schema.decode_item(found.get("Item", {}))


def log_lines(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in text.splitlines()
        if line.startswith('{"type": "lambda_jobs.job"')
    ]


@pytest.fixture
def store_goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> tuple[Goat, Any]:
    dynamodb = make_table(moto)
    return Goat(moto, monkeypatch, LAMBDA_JOBS_JOB_TABLE=TABLE), dynamodb


def test_a_second_delivery_of_a_finished_job_is_skipped_and_uses_no_attempt(
    store_goat: tuple[Goat, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    goat, dynamodb = store_goat
    job = ev.envelope(T + "fail_until", str(tmp_path / "runs"), 1)  # succeeds on its first run
    goat.send(job, job)  # SQS delivers it twice
    _, result = goat.run(2)
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "runs").read_text().splitlines() == ["run"]  # ran once
    outcomes = [line["outcome"] for line in log_lines(capsys.readouterr().out)]
    assert outcomes == ["succeeded", "skipped_duplicate"]
    stored = item(dynamodb, job.id)
    assert (stored["status"], stored["attempt"], stored["result"]) == ("succeeded", 1, "1")
    assert "lease_until" not in stored
    assert ev.queue_is_empty(goat.sqs, goat.url) and ev.queue_is_empty(goat.sqs, goat.dlq_url)


def test_a_job_running_under_a_live_lease_is_deferred_until_the_lease_ends(
    store_goat: tuple[Goat, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    goat, dynamodb = store_goat
    job = ev.envelope(T + "write_file", str(tmp_path / "out"), "x")
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": job.id},
            "status": {"S": "running"},
            "attempt": {"N": "1"},
            "lease_until": {"N": str(int(time.time()) + 30)},
            "lease_owner": {"S": "another-request"},
        },
    )
    goat.send(job)
    event, result = goat.run(1)
    assert ev.failed_ids(result) == goat.ids(event, 0)
    assert not (tmp_path / "out").exists()  # not started twice
    (line,) = log_lines(capsys.readouterr().out)
    assert line["outcome"] == "deferred" and 29 <= line["retry_in_s"] <= 32
    counts = goat.sqs.get_queue_attributes(
        QueueUrl=goat.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert counts == {  # kept, and hidden for the rest of the lease
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
    assert item(dynamodb, job.id)["attempt"] == 1


@pytest.mark.parametrize(
    ("kind", "why"),
    [("set", "returned a set, which is not JSON"), ("big", "over the job store's limit")],
)
def test_a_return_value_the_store_cannot_keep_is_stored_as_an_error(
    store_goat: tuple[Goat, Any], kind: str, why: str
) -> None:
    goat, dynamodb = store_goat
    job = ev.envelope(T + "give_back", kind)
    goat.send(job)
    _, result = goat.run(1)
    assert result == {"batchItemFailures": []}  # the task ran and returned: never crashes
    stored = item(dynamodb, job.id)
    assert stored["status"] == "succeeded" and "result" not in stored
    assert stored["error_type"] == schema.RESULT_NOT_STORED
    assert why in stored["error_message"]


def test_failed_jobs_are_in_the_sparse_failures_index(
    store_goat: tuple[Goat, Any], tmp_path: Path
) -> None:
    goat, dynamodb = store_goat
    failed = ev.envelope(T + "always_fail", str(tmp_path / "runs"))
    ok = ev.envelope(T + "give_back", "small")
    goat.send(failed, ok)
    goat.run(2)
    assert item(dynamodb, ok.id)["result"] == '{"kind":"small","ok":true}'
    found = dynamodb.query(
        TableName=TABLE,
        IndexName=FAILURES_INDEX,
        KeyConditionExpression="failed_task = :t",
        ExpressionAttributeValues={":t": {"S": T + "always_fail"}},
    )["Items"]
    assert [schema.decode(i["pk"]) for i in found] == [failed.id]
    assert schema.decode(found[0]["error_type"]) == "ValueError"


def test_a_missing_table_never_stops_a_job(
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    goat = Goat(moto, monkeypatch, LAMBDA_JOBS_JOB_TABLE="no-such-table")
    goat.send(*(ev.envelope(T + "write_file", str(tmp_path / f"{i}"), f"{i}") for i in range(2)))
    _, result = goat.run(2)
    assert result == {"batchItemFailures": []}
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["0", "1"]
    lines = log_lines(capsys.readouterr().out)
    assert [line["outcome"] for line in lines] == ["succeeded", "succeeded"]
    assert all("ResourceNotFoundException" in line["store_error"] for line in lines)
    assert all(line["level"] == "ERROR" for line in lines)
    assert ev.queue_is_empty(goat.sqs, goat.url)


def test_a_store_outage_mid_batch_runs_every_record_as_without_the_store(
    store_goat: tuple[Goat, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    goat, _dynamodb = store_goat
    trace = str(tmp_path / "trace")
    jobs = [
        ev.envelope(T + "write_file", str(tmp_path / "before"), "before"),
        ev.envelope(T + "drop_table", trace, TABLE),  # the store goes away here
        ev.envelope(T + "write_file", str(tmp_path / "after"), "after"),
        ev.envelope(T + "always_fail", trace),  # no retries: to the DLQ, store or not
    ]
    goat.send(*jobs)
    _, result = goat.run(4)
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "before").read_text() == "before"
    assert (tmp_path / "after").read_text() == "after"
    assert Path(trace).read_text().splitlines() == ["dropped", "run"]
    lines = {line["id"]: line for line in log_lines(capsys.readouterr().out)}
    assert "store_error" not in lines[jobs[0].id]
    assert "recording succeeded failed" in lines[jobs[1].id]["store_error"]
    assert "claim failed, ran without it" in lines[jobs[2].id]["store_error"]
    assert lines[jobs[3].id]["outcome"] == "dead_lettered"
    (dead,) = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert dead["job_id"] == jobs[3].id
    assert ev.queue_is_empty(goat.sqs, goat.url)


def test_only_the_scheduled_retry_claims_a_lamb_job_that_waits_for_it(moto: MotoServer) -> None:
    """Lamb passes the attempt a delivery carries: against a ``retrying`` item, a copy of an
    earlier delivery (attempt <= the store's) is ``waiting``; the retry (the store's + 1), Lambda's
    retry of the invocation that recorded ``retrying`` (same request id) and a delivery of an item
    that has no attempt yet all claim it."""
    from lambda_jobs.jobstore.claims import WorkerStore, claim, finish

    dynamodb = make_table(moto)
    store = WorkerStore(TABLE, 3600)
    job = ev.envelope(T + "fail_until", "unused", 3)

    def take(delivered: int, worker: str) -> tuple[str, int | None]:
        found = claim(
            store,
            job,
            max_attempts=3,
            lease_seconds=10,
            worker_id=worker,
            delivered_attempt=delivered,
        )
        return found.action, found.attempt

    assert take(1, "req-1") == ("run", 1)
    assert finish(store, job.id, attempt=1, status=schema.RETRYING) is None
    assert take(1, "req-copy") == ("waiting", 1)  # a copy of the first delivery
    assert item(dynamodb, job.id)["attempt"] == 1  # it used up no attempt
    assert take(1, "req-1") == ("run", 2)  # Lambda's retry of req-1: its schedule was not created
    assert finish(store, job.id, attempt=2, status=schema.RETRYING) is None
    assert take(2, "req-copy-2") == ("waiting", 2)
    assert take(3, "req-scheduled") == ("run", 3)  # the scheduled retry
    # Goat passes no delivered attempt: its retry is the same message coming back.
    other = ev.envelope(T + "fail_until", "unused", 3)
    assert claim(store, other, max_attempts=3, lease_seconds=10, worker_id="m").action == "run"
    assert finish(store, other.id, attempt=1, status=schema.RETRYING) is None
    assert claim(store, other, max_attempts=3, lease_seconds=10, worker_id="n").attempt == 2
    # A retrying item written without a claim (the store was down at claim time) has no attempt.
    bare = ev.envelope(T + "fail_until", "unused", 3)
    assert finish(store, bare.id, attempt=None, status=schema.RETRYING) is None
    assert (
        claim(
            store, bare, max_attempts=3, lease_seconds=10, worker_id="x", delivered_attempt=2
        ).action
        == "run"
    )
