"""A chord under duplicate deliveries of every member: the successor starts exactly once.

``WORKFLOW_MEMBERS`` ``member`` jobs (CI 1,000, ``make soak`` 10,000) in a group followed by
``joined``; right after the enqueue every member's message is sent a second time (the same
envelope, as SQS or Lambda's async queue may deliver it). Checked: every member ran once, the
successor ran once with every result in member order, the workflow succeeded, nothing reached the
dead-letter queue.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs.config import load as load_config
from lambda_jobs.envelope import Envelope
from lambda_jobs.jobstore import workflow_state
from lambda_jobs.jobstore.records import _client, store_of
from lambda_jobs.workflows.canvas import step_job_id

from tests.soak import report
from tests.soak.conftest import SoakBackend
from tests.soak.sizes import WORKFLOW_MEMBERS
from tests.soak.soak_jobs import soak_tasks, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("soak_backend", ["lamb-store"], indirect=True)
def test_every_member_delivered_twice_starts_the_successor_once(
    soak_backend: SoakBackend,
) -> None:
    import boto3

    backend = soak_backend
    prefix = f"wf-{uuid.uuid4().hex[:6]}"
    wf = lambda_jobs.chain(
        lambda_jobs.group(
            soak_tasks.member.prepare(f"{prefix}-{i}", i) for i in range(WORKFLOW_MEMBERS)
        ),
        soak_tasks.joined.prepare(key=f"{prefix}-joined"),
    ).enqueue()
    lane = backend.config["queues"]["default"]["lanes"][0]["target"]
    client: Any = boto3.client(
        "lambda",
        endpoint_url=backend.config["endpoints"]["lambda"],
        region_name=backend.config["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def again(i: int) -> None:
        envelope = Envelope(
            id=step_job_id(wf.id, 0, i),
            task="soak_tasks.member",
            args=[f"{prefix}-{i}", i],
            enqueued_at=datetime.now(UTC),
            workflow={"v": 1, "id": wf.id, "stage": 0, "member": i},
        )
        client.invoke(
            FunctionName=lane, InvocationType="Event", Payload=envelope.to_json().encode()
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(again, range(WORKFLOW_MEMBERS)))
    # Under lambda-jobs local every member's two deliveries go through one moto server: about 5
    # members a second on a shared 2-core machine (10,000 in about 35 minutes).
    # Polled on the workflow item alone: ``wf.refresh()`` reads every member's job item (100
    # BatchGetItem requests a poll for 10,000 members), which would load the server it measures.
    config = load_config()
    client, table = _client(config), store_of(config).table

    def ended() -> bool:
        item = workflow_state.load(client, table, wf.id)
        return item is not None and item["status"] != workflow_state.RUNNING

    assert wait_for(ended, timeout=60 + WORKFLOW_MEMBERS / 3, interval=1)
    settled = time.monotonic() - started
    wf.refresh()
    assert wf.status == "succeeded", wf.error
    expected = [i * i for i in range(WORKFLOW_MEMBERS)]
    runs = backend.runs(prefix)
    members = [r for r in runs if r["task"] == "soak_tasks.member"]
    joined = [r for r in runs if r["task"] == "soak_tasks.joined"]
    seen: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(seen)
    dead = [m for m in seen.values() if wf.id in m.get("Body", "")]
    report.add(
        "workflow-chord[lamb+store]",
        f"a chord of {WORKFLOW_MEMBERS} members, each member's message delivered twice; "
        f"{wf.status} after {settled:.0f} s; {len(members)} member runs, {len(joined)} successor "
        f"runs, results in member order: {joined[0]['values'] == expected if joined else False}; "
        f"{len(dead)} in the DLQ",
    )
    assert len(joined) == 1, joined
    assert joined[0]["values"] == expected
    assert sorted(r["key"] for r in members) == sorted(
        f"{prefix}-{i}" for i in range(WORKFLOW_MEMBERS)
    )  # each member ran once: the copies were skipped
    assert wf.result == WORKFLOW_MEMBERS
    assert not dead
