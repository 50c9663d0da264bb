"""The client half of the job store against real moto SQS and DynamoDB.

Pinned behaviour: the job item is written (``enqueued``) before the send; a send that failed
deletes it again and frees its unique key; a store that cannot be written means nothing is sent
(one ``EnqueueError`` naming the jobs); a unique key held by a pending job returns that job and
sends nothing, also within one bulk call; cancelling frees the key; option mistakes are clear.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import EnqueueError, InvalidJobError
from lambda_jobs.config import parse
from lambda_jobs.errors import ConfigurationError
from lambda_jobs.jobstore import schema
from lambda_jobs.jobstore.claims import encode_result
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime import sample_tasks
from tests.runtime.enqueue_backends import (
    GoatBackend,
    goat,  # noqa: F401  (the fixture)
    use_config,
)
from tests.runtime.job_table import TABLE, make_table

STORE = {"table": TABLE, "ttl_seconds": 3600}


@pytest.fixture
def store(
    goat: GoatBackend,  # noqa: F811
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[GoatBackend, Any]:
    dynamodb = make_table(moto)
    use_config(monkeypatch, goat.document(job_store=STORE))
    return goat, dynamodb


def unique_item(dynamodb: Any, key: str) -> dict[str, Any] | None:
    found = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": schema.unique_pk(key)}}, ConsistentRead=True
    )
    item: dict[str, Any] | None = found.get("Item")
    return item


def test_enqueue_writes_the_job_item_before_sending(store: tuple[GoatBackend, Any]) -> None:
    backend, _ = store
    job = sample_tasks.write_file.using(priority=60).enqueue("/tmp/x", "y")
    seen = lambda_jobs.get_job(job.id)
    assert (seen.status, seen.attempts, seen.task_name) == ("enqueued", 0, job.task_name)
    assert (seen.priority, seen.queue_name) == (60, "default")
    assert backend.receive(backend.high_url, 1)[0]["Body"].find(job.id) > 0


def test_a_failed_send_removes_the_item_and_frees_the_unique_key(
    store: tuple[GoatBackend, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, dynamodb = store
    document = backend.document(job_store=STORE)
    missing = backend.low_url.rsplit("/", 1)[0] + "/no-such-queue"
    document["queues"]["default"]["lanes"][0]["target"] = missing
    use_config(monkeypatch, document)
    with pytest.raises(EnqueueError) as raised:
        sample_tasks.write_file.using(unique_key="k1", unique_for=60).enqueue("/tmp/x", "y")
    (job_id,) = raised.value.job_ids
    with pytest.raises(lambda_jobs.UnknownJobError):
        lambda_jobs.get_job(job_id)
    assert unique_item(dynamodb, "k1") is None


def test_nothing_is_sent_when_the_store_cannot_be_written(
    goat: GoatBackend,  # noqa: F811
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_config(monkeypatch, goat.document(job_store={"table": "missing", "ttl_seconds": 60}))
    jobs = [sample_tasks.write_file.prepare("/tmp/x", str(i)) for i in range(3)]
    with pytest.raises(EnqueueError, match="could not be written to the job store 'missing'"):
        lambda_jobs.enqueue_many(jobs)
    assert goat.counts(goat.low_url)["ApproximateNumberOfMessages"] == 0


def test_a_unique_key_returns_the_pending_job_also_within_one_bulk_call(
    store: tuple[GoatBackend, Any],
) -> None:
    backend, dynamodb = store
    unique = sample_tasks.write_file.using(unique_key="nightly", unique_for=timedelta(hours=1))
    receipts = lambda_jobs.enqueue_many([unique.prepare("/tmp/x", str(i)) for i in range(3)])
    (sent,) = [job for job in receipts if not job.existing]
    assert all(job.id == sent.id and job.status == "enqueued" for job in receipts)
    assert len(backend.receive(backend.low_url, 1)) == 1
    assert backend.counts(backend.low_url)["ApproximateNumberOfMessages"] == 0
    again = unique.enqueue("/tmp/x", "later")
    assert again.existing and again.id == sent.id
    # Cancelling the holder frees the key (released on completion, and cancelled is final).
    assert lambda_jobs.cancel_job(sent.id).status == "cancelled"
    assert unique_item(dynamodb, "nightly") is None
    fresh = unique.enqueue("/tmp/x", "after")
    assert not fresh.existing and fresh.id != sent.id


def test_one_job_per_unique_key_when_its_enqueues_race(store: tuple[GoatBackend, Any]) -> None:
    """Many keys, each enqueued by several writers of one bulk call at once (its 8 threads): each
    key holds one job, and exactly one job per key is sent. Before the job item was written ahead
    of its key, a writer that found the key held by a job whose item was not written yet took it
    over as expired, and two jobs were sent for one key."""
    backend, _ = store
    keys, copies = 24, 3
    jobs = [
        sample_tasks.write_file.using(
            unique_key=f"race-{k}", unique_for=timedelta(hours=1)
        ).prepare("/tmp/x", f"{k}-{c}")
        for k in range(keys)
        for c in range(copies)  # a key's copies side by side: taken by threads at once
    ]
    receipts = lambda_jobs.enqueue_many(jobs)
    sent = [job for job in receipts if not job.existing]
    assert len(sent) == keys, f"{len(sent)} jobs sent for {keys} keys"
    assert len(backend.receive(backend.low_url, keys)) == keys
    assert backend.counts(backend.low_url)["ApproximateNumberOfMessages"] == 0


def test_an_expired_unique_key_is_free_whatever_its_holder_did(
    store: tuple[GoatBackend, Any],
) -> None:
    _, dynamodb = store
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": schema.unique_pk("old")},
            "job_id": {"S": "crashed-long-ago"},
            "expires_at": {"N": "1"},  # past; TTL may not have deleted it yet
        },
    )
    job = sample_tasks.write_file.using(unique_key="old", unique_for=60).enqueue("/tmp/x", "y")
    assert not job.existing
    holder = unique_item(dynamodb, "old")
    assert holder is not None and holder["job_id"]["S"] == job.id


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"unique_key": "k"}, "unique_key needs unique_for"),
        ({"unique_key": "", "unique_for": 5}, "unique_key must be a string of 1-512"),
        ({"unique_key": "k", "unique_for": 0.5}, "unique_for must be 1 s to 2,592,000 s"),
        ({"unique_key": "k", "unique_for": "1h"}, "unique_for must be seconds"),
        ({"unique_key": "k", "unique_for": 5, "unique_until": "done"}, "unique_until must be"),
        ({"unique_for": 5}, "unique_key must be a string"),
    ],
)
def test_unique_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJobError, match=message):
        sample_tasks.write_file.using(**options)


def test_unique_jobs_without_a_job_store_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")
    with pytest.raises(InvalidJobError, match="unique_key needs the job store, and inline mode"):
        sample_tasks.write_file.using(unique_key="k", unique_for=5).enqueue("/tmp/x", "y")
    with pytest.raises(ConfigurationError, match="has no job store"):
        lambda_jobs.get_job("any")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("table", "job_store must be an object or null"),
        ({"ttl_seconds": 5}, "job_store is missing 'table'"),
        ({"table": "t", "ttl_seconds": 0}, "ttl_seconds >= 1"),
    ],
)
def test_config_job_store_is_checked(goat: GoatBackend, value: Any, message: str) -> None:  # noqa: F811
    with pytest.raises(ConfigurationError, match=message):
        parse(goat.document(job_store=value))


def test_config_without_job_store_is_still_schema_1(goat: GoatBackend) -> None:  # noqa: F811
    assert parse(goat.document()).job_store is None
    assert parse(goat.document(job_store=STORE)).job_store is not None


def test_result_bound_is_64_kib_of_json() -> None:
    assert encode_result({"a": [1, 2]}) == ('{"a":[1,2]}', None)
    fits = "x" * (schema.RESULT_MAX_BYTES - 2)  # the two quotes
    assert encode_result(fits)[0] is not None
    text, why = encode_result(fits + "x")
    assert text is None and "65,537 bytes as JSON, over the job store's limit of 65,536" in str(why)
    assert "returned a float, which is not JSON" in str(encode_result(float("nan"))[1])
