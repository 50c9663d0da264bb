"""Flow control under kills and duplicate deliveries (issue 20): the caps hold, 0 jobs lost.

``LIMIT_CAPPED_JOBS`` ``capped`` jobs (``Concurrency("soak-c", 3)``, 0.25 s each) and
``LIMIT_PACED_JOBS`` ``paced`` jobs (``Rate("soak-r", 10)``) go out in one bulk, and each is
delivered a second time at once (the same envelope: an SQS message on Goat, an ``Event`` invoke on
Lamb), as SQS or Lambda's async queue may. While they run, ``LIMIT_KILLS`` environments running a
``capped`` job are SIGKILLed mid-job, as ``test_kills`` does. Counted:

- 0 lost: every job succeeded, nothing in the dead-letter queue;
- the cap, from the tasks' own ``started``/``succeeded`` lines: never more than 3 running at once,
  a killed run counted as running until the earliest its lease can end (its slot is not given to
  another job before: the attempt's time limit + 5 s from the grant, so at least
  :data:`LEASE_FLOOR_S` after its start) or, on Lamb, until Lambda's retry of the killed
  invocation starts it again (a retry keeps the request id, so it is the slot's own holder);
- the slots of killed attempts come back: the kills are at least the whole cap, and every job
  still ran (leaked slots would leave the limit nothing to grant);
- the rate: no window of 1 s holds more than 10 grants (``granted_at`` on the jobs' lines).

Sizes: :data:`tests.soak.sizes.LIMIT_CAPPED_JOBS` (CI 24, ``make soak`` 150),
:data:`~tests.soak.sizes.LIMIT_PACED_JOBS` (20 / 100), :data:`~tests.soak.sizes.LIMIT_KILLS`
(3 / 8).
"""

from __future__ import annotations

import importlib
import os
import random
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from lambda_jobs import enqueue_many
from lambda_jobs.envelope import Envelope
from lambda_jobs.job import PreparedJob

from tests.e2e.test_limits import max_overlap, most_in_window
from tests.soak import report
from tests.soak.conftest import SoakBackend, dead_letter_attribute
from tests.soak.sizes import LIMIT_CAPPED_JOBS, LIMIT_KILLS, LIMIT_PACED_JOBS
from tests.soak.soak_jobs import wait_for
from tests.soak.test_kills import environment_of, running, still_running

#: The tasks under limits (their own module: only the stacks with a job store load it).
soak_limited_tasks: Any = importlib.import_module("soak_limited_tasks")

pytestmark = pytest.mark.e2e

JOB_SECONDS = 0.25
CAP = 3
RATE = 10
#: A killed run holds its slot at least this long after its start: the lease is the attempt's
#: time limit + 5 s from the grant, which comes a little before the start.
LEASE_FLOOR_S = 4.0


def deliver_again(backend: SoakBackend, jobs: list[PreparedJob]) -> None:
    """A second delivery of each job: the same envelope, as the queue may hand it over twice."""
    import boto3

    lane = backend.config["queues"]["default"]["lanes"][0]["target"]
    bodies = [
        Envelope(
            id=job.id, task=job.task.name, args=list(job.args), enqueued_at=datetime.now(UTC)
        ).to_json()
        for job in jobs
    ]
    if backend.name.startswith("goat"):
        sqs = backend.sqs()
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            assert not sqs.send_message_batch(QueueUrl=lane, Entries=entries).get("Failed")
        return
    client: Any = boto3.client(
        "lambda",
        endpoint_url=backend.config["endpoints"]["lambda"],
        region_name=backend.config["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda body: client.invoke(
                    FunctionName=lane, InvocationType="Event", Payload=body.encode()
                ),
                bodies,
            )
        )


@pytest.mark.parametrize("soak_backend", ["goat-short-store", "lamb-store"], indirect=True)
def test_limits_hold_under_kills_and_duplicates_and_lose_no_job(
    soak_backend: SoakBackend,
) -> None:
    backend = soak_backend
    lane = "lamb" if backend.name.startswith("lamb") else "goat"
    capped_prefix, paced_prefix = f"limc-{lane}-", f"limr-{lane}-"
    capped_keys = [f"{capped_prefix}{i:05d}" for i in range(LIMIT_CAPPED_JOBS)]
    paced_keys = [f"{paced_prefix}{i:05d}" for i in range(LIMIT_PACED_JOBS)]
    jobs = [soak_limited_tasks.capped.prepare(key, JOB_SECONDS) for key in capped_keys] + [
        soak_limited_tasks.paced.prepare(key) for key in paced_keys
    ]
    rng = random.Random(20261207)
    started_at = time.monotonic()
    enqueue_many(jobs)
    deliver_again(backend, jobs)
    kills: list[tuple[str, float]] = []  # the killed run's key and start
    killed_pids: set[int] = set()
    target: tuple[dict[str, Any], float] | None = None
    deadline = time.monotonic() + 120 + 2 * (LIMIT_CAPPED_JOBS + LIMIT_PACED_JOBS)
    while time.monotonic() < deadline:
        runs = backend.runs(capped_prefix)
        done = {run["key"] for run in runs if run["outcome"] == "succeeded"}
        paced_done = {run["key"] for run in backend.runs(paced_prefix)}
        if len(done) == len(capped_keys) and len(paced_done) == len(paced_keys):
            break
        if target is not None and time.time() >= target[1]:
            if still_running(backend, capped_prefix, target[0]):
                pid = target[0]["pid"]
                assert environment_of(pid, backend.emulator.pid), f"{pid} is no environment"
                os.kill(pid, signal.SIGKILL)
                kills.append((target[0]["key"], target[0]["at"]))
                killed_pids.add(pid)
            target = None
        # The kills spread over the first half of the jobs to start.
        begun = len({run["key"] for run in runs})
        wanted = min(LIMIT_KILLS, 2 * LIMIT_KILLS * begun // len(capped_keys) + 1)
        if target is None and len(kills) < wanted:
            killed_keys = {key for key, _ in kills}
            candidates = [
                run
                for pid, (run, _) in running(runs).items()
                if pid not in killed_pids
                and run["key"] not in killed_keys
                and environment_of(pid, backend.emulator.pid)
            ]
            if candidates:
                run = rng.choice(candidates)
                target = (run, run["at"] + rng.uniform(0.02, JOB_SECONDS * 0.8))
        time.sleep(0.02)
    settled_s = time.monotonic() - started_at

    dead: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(dead)
    ids = {job.id for job in jobs}
    dead_ours = [m for m in dead.values() if dead_letter_attribute(m, "job_id") in ids]
    runs = backend.runs(capped_prefix)
    paced_runs = backend.runs(paced_prefix)
    succeeded = {run["key"] for run in runs + paced_runs if run["outcome"] == "succeeded"}
    lost = sorted(set(capped_keys + paced_keys) - succeeded)
    killed = {key: start for key, start in kills}
    # Each run as [start, end]: a killed run (no end of its own) until its lease's earliest end.
    spans: list[dict[str, float]] = []
    open_runs: dict[tuple[str, int], float] = {}
    for run in runs:
        if run["outcome"] == "started":
            open_runs[run["key"], run["pid"]] = run["at"]
        elif (start := open_runs.pop((run["key"], run["pid"]), None)) is not None:
            spans.append({"start": start, "end": run["at"]})
    for (key, _), start in open_runs.items():
        assert killed.get(key) == start, f"a run of {key} neither ended nor was killed"
        end = start + LEASE_FLOOR_S
        if lane == "lamb":  # Lambda's retry of the killed invocation (the same request id, so
            # the same holder) takes over the slot its dead attempt held
            end = min([end] + [r["at"] for r in runs if r["key"] == key and r["at"] > start])
        spans.append({"start": start, "end": end})
    most = max_overlap(spans)
    paced_ids = {job.id for job in jobs[LIMIT_CAPPED_JOBS:]}

    def skipped() -> set[str]:
        return {x["id"] for x in backend.function_lines("skipped_duplicate") if x.get("id") in ids}

    def paced_lines() -> list[dict[str, Any]]:
        return [x for x in backend.function_lines("succeeded") if x.get("id") in paced_ids]

    # Every job's second delivery (waiting for a limit too, maybe) is acknowledged unrun; the
    # jobs' lines are written when their invocations end.
    wait_for(lambda: skipped() >= ids and len(paced_lines()) >= len(paced_ids), timeout=60)
    copies = skipped()
    grants = [x["granted_at"] for x in paced_lines()]
    densest = most_in_window(grants, 1.0)
    limited = [x for x in backend.function_lines("limited") if x.get("id") in ids]
    completions = Counter(run["key"] for run in runs + paced_runs if run["outcome"] == "succeeded")
    report.add(
        f"limits[{lane}+store]",
        f"{LIMIT_CAPPED_JOBS} jobs under Concurrency(3) and {LIMIT_PACED_JOBS} under Rate(10/s), "
        f"each delivered twice; {len(kills)} environments SIGKILLed mid-job; settled in "
        f"{settled_s:.1f} s; {len(spans)} runs of the capped jobs, at most {most} at once "
        f"(a killed run counted until its lease could end or its retry began); densest second "
        f"{densest} grants; "
        f"{len(limited)} limited waits, {len(copies)} jobs' copies acknowledged unrun, "
        f"{sum(c - 1 for c in completions.values())} duplicate completions, "
        f"{len(dead_ours)} in the DLQ, {len(lost)} lost",
    )
    assert not lost, f"jobs that never succeeded: {lost[:20]}"
    assert not dead_ours, "a job under a limit reached the DLQ"
    assert len(kills) >= CAP, f"only {len(kills)} kills landed: less than the whole cap"
    assert most <= CAP, f"{most} capped runs at once"
    assert len(grants) >= LIMIT_PACED_JOBS, "a paced job's line has no granted_at"
    assert densest <= RATE, f"{densest} grants of Rate(10/s) within 1 s"
    assert limited, "nothing was limited: the test proved nothing"
    assert copies == ids, f"{len(ids - copies)} jobs' second deliveries were not skipped"
    for key, _ in kills:  # the killed job ran again after its environment died
        assert any(r["key"] == key and r["outcome"] == "succeeded" for r in runs), key
