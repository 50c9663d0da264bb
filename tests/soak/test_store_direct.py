"""The job store's direct path under ``lambda-jobs local``: used, authorized, and safe under faults.

One emulator runs a Goat and a Lamb backend with the job store; their functions reach DynamoDB
through a :class:`FaultProxy` (``AWS_ENDPOINT_URL_DYNAMODB``) in front of the emulator's endpoint,
the IAM gateway, which judges every call as the function's role. The proxy counts requests by
whether their User-Agent carries the direct path's mark and by the answer's status, and fails the
claim or the outcome write of chosen jobs once (a 500, a throttle, or a 500 after DynamoDB wrote
the item: a lost answer); botocore then sends the same request again.

Checked per backend: the claims and outcome writes went on the direct path and the gateway
answered them 200 (authorized); every job (none has retries) ran exactly once, the store says
succeeded after 1 attempt with one worker, and nothing reached the dead-letter queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import aws
from lambda_jobs.jobstore.direct import USER_AGENT_MARK

from tests.runtime.jobstore.test_direct import UPDATE, outage_of
from tests.soak.conftest import SoakBackend, destination_job_id, store_backends_behind, use
from tests.soak.fault_proxy import FaultProxy
from tests.soak.soak_jobs import soak_tasks, wait_for

pytestmark = pytest.mark.e2e

#: (request, fault) of the faulted jobs; as many jobs again run without a fault.
FAULTS = [
    ("claim", "lost_answer"),
    ("claim", "5xx"),
    ("claim", "throttle"),
    ("outcome", "lost_answer"),
    ("outcome", "5xx"),
]


@pytest.fixture(scope="module")
def proxied(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FaultProxy, dict[str, tuple[str, str]], dict[str, SoakBackend]]]:
    directory = tmp_path_factory.mktemp("store-direct")
    faults: dict[str, tuple[str, str]] = {}
    with (
        FaultProxy(
            "http://127.0.0.1:9",
            rate=0.0,
            seed=22,
            outage=outage_of(faults),
            outage_seconds=0.05,  # within botocore's retries (25 ms base for DynamoDB)
            agent_mark=USER_AGENT_MARK,
        ) as proxy,
        store_backends_behind(proxy, soak_assembly, directory) as backends,
    ):
        yield proxy, faults, backends
        aws.reset()


@pytest.mark.parametrize("name", ["goat", "lamb"])
def test_the_worker_uses_the_direct_path_and_an_error_answer_loses_and_repeats_no_job(
    proxied: tuple[FaultProxy, dict[str, tuple[str, str]], dict[str, SoakBackend]],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, faults, backends = proxied
    backend = use(backends[name], monkeypatch)
    before = proxy.agents.copy()
    prefix = f"direct-{name}-{uuid.uuid4().hex[:8]}-"
    prepared = [soak_tasks.steady.prepare(f"{prefix}{i}") for i in range(2 * len(FAULTS))]
    for job, fault in zip(prepared, FAULTS, strict=False):
        faults[job.id] = fault
    jobs = lambda_jobs.enqueue_many(prepared)

    def ended() -> bool:
        return all(job.refresh().status in ("succeeded", "failed") for job in jobs)

    assert wait_for(ended, timeout=90), [job.status for job in jobs]
    assert wait_for(lambda: len(backend.runs(prefix)) >= len(jobs), timeout=30)
    runs = sorted(run["key"] for run in backend.runs(prefix))
    assert runs == sorted(f"{prefix}{i}" for i in range(len(jobs)))  # each ran once
    for job in jobs:
        assert (job.status, job.attempts, len(job.worker_ids)) == ("succeeded", 1, 1), job.id
    for job in jobs[: len(FAULTS)]:
        assert proxy.outages[f"{faults[job.id][0]}:{job.id}"] >= 1  # its fault happened
    seen = proxy.agents - before
    # Every outcome write follows its claim in the same environment: all went direct, and the
    # IAM gateway authorized them (200). Only an environment's first claim is botocore's.
    direct_ok = seen[UPDATE, True, 200]
    assert direct_ok >= len(jobs), seen
    # The only 400 a direct request met is the injected throttle: none was denied by the gateway.
    throttles = sum(fault == "throttle" for _, fault in FAULTS)
    assert seen[UPDATE, True, 400] <= throttles, seen
    dead: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(dead)
    dead_ids = {destination_job_id(m) or json.loads(m["Body"]).get("id") for m in dead.values()}
    assert not dead_ids & {job.id for job in jobs}
