"""Reliability under load: many jobs through each backend under ``lambda-jobs local``.

Per backend, ``N`` jobs go out in one ``enqueue_many``: 10% ``flaky`` (fail once, then succeed on
the retry), 2% ``doomed`` (fail on both attempts), 10% ``steady_async`` (an ``async def`` task)
and the rest ``steady``. The test waits until
every job has reached its end and checks, per job:

- every ``steady`` and ``flaky`` job succeeded (a flaky one on attempt 2, after failing attempt 1);
- every ``doomed`` job is in the dead-letter queue, exactly once, with its error (type, message
  naming the job, 2 attempts), and nothing else is;
- no job is lost: each ran at least as often as its kind needs;
- executions are counted and reported; duplicates (at-least-once delivery) are counted and
  reported, not failed. Under the emulator, moto's ReceiveMessage is not atomic, so two pollers
  can get one message, both copies counted as a second receive: for a no-retry job both are
  dead-lettered as ``IncompleteAttempts`` (in the DLQ with the error, so not lost, but a job that
  may never have run). Those are counted and reported; any other extra DLQ entry fails.

Sizes: :data:`tests.soak.sizes.LOAD_JOBS` (CI 200 Goat / 60 Lamb; ``make soak`` 2,000 / 500).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from lambda_jobs import enqueue_many

from tests.soak import report
from tests.soak.conftest import SoakBackend, dead_letter_attribute
from tests.soak.sizes import LOAD_JOBS
from tests.soak.soak_jobs import soak_tasks

pytestmark = pytest.mark.e2e

#: Runs each kind needs: steady once, flaky twice (fail, succeed), doomed twice (both fail).
RUNS_NEEDED = {"steady": 1, "steady_async": 1, "flaky": 2, "doomed": 2}


def kind_of(index: int) -> str:
    """2% doomed, 10% flaky, 10% steady_async, the rest steady, spread through the batch."""
    if index % 50 == 0:
        return "doomed"
    if index % 10 == 1:
        return "flaky"
    if index % 10 == 3:
        return "steady_async"
    return "steady"


@pytest.mark.parametrize("soak_backend", ["goat", "lamb"], indirect=True)
def test_load_every_flaky_job_succeeds_every_failing_one_is_dead_lettered_none_lost(
    soak_backend: SoakBackend,
) -> None:
    backend = soak_backend
    size = LOAD_JOBS[backend.name]
    prefix = f"load-{backend.name}-"
    keys = {f"{prefix}{index:05d}": kind_of(index) for index in range(size)}
    started = time.monotonic()
    receipts = enqueue_many([getattr(soak_tasks, kind).prepare(key) for key, kind in keys.items()])
    enqueued_s = time.monotonic() - started
    job_ids = {receipt.id: key for receipt, key in zip(receipts, keys, strict=True)}

    dead: dict[str, dict[str, Any]] = {}
    doomed_keys = {key for key, kind in keys.items() if kind == "doomed"}
    deadline = time.monotonic() + 60 + size * 0.25
    while True:
        succeeded = {run["key"] for run in backend.runs(prefix) if run["outcome"] == "succeeded"}
        backend.take_dead_letters(dead)
        dead_ids = {dead_letter_attribute(m, "job_id") for m in dead.values()}
        dead_doomed = {key for job_id, key in job_ids.items() if job_id in dead_ids} & doomed_keys
        settled = succeeded | {
            job_ids[job_id]
            for m in dead.values()
            if (job_id := dead_letter_attribute(m, "job_id") or "") in job_ids
            and dead_letter_attribute(m, "error_type") == "IncompleteAttempts"
        }
        done = settled >= set(keys) - doomed_keys and dead_doomed | settled >= doomed_keys
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    settled_s = time.monotonic() - started
    # The emulator is shared with other soak tests: their late duplicates are theirs to count.
    dead = {k: m for k, m in dead.items() if dead_letter_attribute(m, "job_id") in job_ids}
    all_runs = backend.runs(prefix)
    per_key = Counter(run["key"] for run in all_runs)
    lost = sorted(key for key, kind in keys.items() if per_key[key] < RUNS_NEEDED[kind])
    duplicates = sum(max(0, per_key[key] - RUNS_NEEDED[kind]) for key, kind in keys.items())
    flaky = sum(1 for kind in keys.values() if kind == "flaky")
    async_jobs = sum(1 for kind in keys.values() if kind == "steady_async")
    # moto's ReceiveMessage is not atomic: concurrent pollers of the emulator can both receive one
    # message, and both copies may carry a receive count past a no-retry task's last attempt. The
    # handler then dead-letters them as IncompleteAttempts (error in the DLQ, redrivable: not lost,
    # not silent), whether or not another copy ran. Counted and stated; see the report.
    incomplete = [
        m for m in dead.values() if dead_letter_attribute(m, "error_type") == "IncompleteAttempts"
    ]
    incomplete_keys = {job_ids[dead_letter_attribute(m, "job_id") or ""] for m in incomplete}
    never_ran = sorted(key for key in incomplete_keys if per_key[key] == 0)
    lost = [key for key in lost if key not in incomplete_keys]
    report.add(
        f"load[{backend.name}]",
        f"{size} jobs ({flaky} flaky, {len(doomed_keys)} failing, {async_jobs} async), enqueued in "
        f"{enqueued_s:.1f} s, settled in {settled_s:.1f} s; {len(all_runs)} executions "
        f"(needed {sum(RUNS_NEEDED[kind] for kind in keys.values())}), {duplicates} duplicate "
        f"executions (at-least-once), {len(dead)} in the DLQ ({len(incomplete)} of them "
        f"duplicate deliveries dead-lettered as IncompleteAttempts, for {len(never_ran)} jobs "
        f"that never ran), {len(lost)} lost",
    )
    assert not lost, f"jobs that did not run as often as they must: {lost[:20]}"
    not_succeeded = sorted(
        key
        for key, kind in keys.items()
        if kind != "doomed" and key not in succeeded and key not in incomplete_keys
    )
    assert not not_succeeded, f"jobs that never succeeded: {not_succeeded[:20]}"
    for run in all_runs:
        if keys[run["key"]] == "flaky" and run["attempt"] == 1:
            assert run["outcome"] == "failed", run
    failing_dead = [m for m in dead.values() if m not in incomplete]
    unexpected = [
        {
            "key": job_ids.get(dead_letter_attribute(m, "job_id") or "", "?"),
            **{
                name: dead_letter_attribute(m, name)
                for name in ("reason", "error_type", "error_message", "attempts")
            },
        }
        for m in failing_dead
        if job_ids.get(dead_letter_attribute(m, "job_id") or "") not in doomed_keys
    ]
    assert not unexpected, f"DLQ holds jobs that are not failing ones: {unexpected[:5]}"
    dead_keys = Counter(
        job_ids.get(dead_letter_attribute(m, "job_id") or "", "?") for m in failing_dead
    )
    assert set(dead_keys) | incomplete_keys >= doomed_keys, (
        f"failing jobs missing from the DLQ: {doomed_keys - set(dead_keys) - incomplete_keys}"
    )
    for message in failing_dead:
        key = job_ids[dead_letter_attribute(message, "job_id") or ""]
        assert dead_letter_attribute(message, "reason") == "exhausted"
        assert dead_letter_attribute(message, "error_type") == "RuntimeError"
        assert f"{key}: always fails on purpose" in (
            dead_letter_attribute(message, "error_message") or ""
        )
        assert dead_letter_attribute(message, "task") == "soak_tasks.doomed"
