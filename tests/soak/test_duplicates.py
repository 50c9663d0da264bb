"""Duplicate deliveries of Lamb jobs that wait for a retry, with the job store (issue 29).

Lambda's async queue may hand an event over more than once. ``N`` ``flaky_wait`` jobs each fail
their first attempt and wait 3 s for the retry's schedule; as soon as a job's first attempt has
failed, the test delivers ``K`` more copies of its first delivery (``Event`` invokes of the same
envelope, attempt 1). Checked per job:

- it ran exactly twice, attempt 1 (failed) then attempt 2 (succeeded), at least the backoff apart:
  the copies ran nothing, used up no attempt and started no second retry chain;
- the store says succeeded after 2 attempts; nothing of it is in the dead-letter queue;
- every copy was acknowledged as ``skipped_duplicate``; those that came during the wait carry
  ``retry_pending`` (counted and reported: a copy that came after the retry had run is skipped
  as a finished job's).

Sizes: :data:`tests.soak.sizes.DUPLICATE_JOBS` jobs (CI 12, ``make soak`` 60) with
:data:`~tests.soak.sizes.DUPLICATE_COPIES` copies each.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from lambda_jobs import enqueue_many, get_job
from lambda_jobs.envelope import Envelope

from tests.soak import report
from tests.soak.conftest import SoakBackend, dead_letter_attribute
from tests.soak.sizes import DUPLICATE_COPIES, DUPLICATE_JOBS
from tests.soak.soak_jobs import soak_tasks, wait_for

pytestmark = pytest.mark.e2e

#: ``flaky_wait``'s backoff, less the scheduler's rounding to whole seconds.
MIN_GAP_S = 2.5


def _deliver_again(backend: SoakBackend, lambda_client: Any, job_id: str, key: str) -> None:
    envelope = Envelope(
        id=job_id, task="soak_tasks.flaky_wait", args=[key], enqueued_at=datetime.now(UTC)
    )
    lambda_client.invoke(
        FunctionName=backend.config["queues"]["default"]["lanes"][0]["target"],
        InvocationType="Event",
        Payload=envelope.to_json().encode(),
    )


@pytest.mark.parametrize("soak_backend", ["lamb-store"], indirect=True)
def test_copies_of_a_delivery_during_the_retry_wait_run_nothing_and_use_no_attempt(
    soak_backend: SoakBackend,
) -> None:
    import boto3

    backend = soak_backend
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=backend.config["endpoints"]["lambda"],
        region_name=backend.config["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    prefix = "dup-lamb-"
    keys = [f"{prefix}{index:04d}" for index in range(DUPLICATE_JOBS)]
    started = time.monotonic()
    receipts = enqueue_many([soak_tasks.flaky_wait.prepare(key) for key in keys])
    ids = {key: receipt.id for key, receipt in zip(keys, receipts, strict=True)}
    copied: set[str] = set()
    deadline = time.monotonic() + 60 + DUPLICATE_JOBS
    while time.monotonic() < deadline:
        runs = backend.runs(prefix)
        for run in runs:
            if run["attempt"] == 1 and run["outcome"] == "failed" and run["key"] not in copied:
                copied.add(run["key"])
                for _ in range(DUPLICATE_COPIES):
                    _deliver_again(backend, lambda_client, ids[run["key"]], run["key"])
        succeeded = {run["key"] for run in runs if run["outcome"] == "succeeded"}
        if succeeded >= set(keys):
            break
        time.sleep(0.1)
    settled_s = time.monotonic() - started
    wanted = set(ids.values())

    def skipped() -> list[dict[str, Any]]:
        return [x for x in backend.function_lines("skipped_duplicate") if x.get("id") in wanted]

    wait_for(lambda: len(skipped()) >= DUPLICATE_JOBS * DUPLICATE_COPIES, timeout=30)
    copies = skipped()
    pending = [x for x in copies if x.get("retry_pending")]
    runs = backend.runs(prefix)
    per_key: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    for run in runs:
        per_key[run["key"]].append(run)
    dead: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(dead)
    dead_ids = {dead_letter_attribute(m, "job_id") for m in dead.values()} & wanted
    report.add(
        "duplicates[lamb+store]",
        f"{DUPLICATE_JOBS} jobs waiting for a retry, {DUPLICATE_COPIES} copies of each one's first "
        f"delivery; settled in {settled_s:.1f} s; {len(runs)} executions (needed "
        f"{2 * DUPLICATE_JOBS}), {len(copies)} copies acknowledged without running "
        f"({len(pending)} of them during the retry wait), {len(dead_ids)} in the DLQ",
    )
    wrong = {
        key: [(run["attempt"], run["outcome"]) for run in found]
        for key, found in per_key.items()
        if [(run["attempt"], run["outcome"]) for run in found] != [(1, "failed"), (2, "succeeded")]
    }
    assert not wrong, (
        f"jobs that did not run exactly as attempt 1 then 2: {list(wrong.items())[:5]}"
    )
    early = [key for key, found in per_key.items() if found[1]["at"] - found[0]["at"] < MIN_GAP_S]
    assert not early, f"retries that did not wait for their backoff: {early[:5]}"
    assert len(copies) == DUPLICATE_JOBS * DUPLICATE_COPIES
    assert pending, "no copy arrived while its job waited for the retry: the test proved nothing"
    assert not dead_ids
    for key in keys[:: max(1, DUPLICATE_JOBS // 6)]:  # a sample: the store agrees
        job = get_job(ids[key])
        assert (job.status, job.attempts) == ("succeeded", 2), key
