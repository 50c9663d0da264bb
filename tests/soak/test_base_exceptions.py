"""A task raising a ``BaseException`` fails its own job only, under ``lambda-jobs local``.

Per backend, one ``enqueue_many`` sends rounds of three jobs: ``steady``, ``interrupted`` (raises
``KeyboardInterrupt`` on both of its attempts) and ``steady`` again, so on Goat the interrupting
job sits in the middle of its batch. Checked, with counts reported:

- every neighbour succeeds exactly once (a batch that failed as a whole would run them again);
- every interrupting job runs twice (its retry) and reaches the dead-letter queue once, as
  ``exhausted`` with error type ``KeyboardInterrupt``, its message and 2 attempts.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from lambda_jobs import enqueue_many

from tests.soak import report
from tests.soak.conftest import SoakBackend, dead_letter_attribute
from tests.soak.soak_jobs import soak_tasks, wait_for

pytestmark = pytest.mark.e2e

ROUNDS = 3


@pytest.mark.parametrize("soak_backend", ["goat", "lamb"], indirect=True)
def test_faults_keyboard_interrupt_fails_its_job_and_never_its_neighbours(
    soak_backend: SoakBackend,
) -> None:
    backend = soak_backend
    prefix = f"interrupt-{backend.name}-"
    kinds = ("steady", "interrupted", "steady")
    keys = {f"{prefix}{r}-{i}": kind for r in range(ROUNDS) for i, kind in enumerate(kinds)}
    receipts = enqueue_many([getattr(soak_tasks, kind).prepare(key) for key, kind in keys.items()])
    job_ids = {receipt.id: key for receipt, key in zip(receipts, keys, strict=True)}
    steady = {key for key, kind in keys.items() if kind == "steady"}
    interrupted = set(keys) - steady
    dead: dict[str, dict[str, Any]] = {}

    def settled() -> bool:
        backend.take_dead_letters(dead)
        dead_keys = {job_ids.get(dead_letter_attribute(m, "job_id") or "") for m in dead.values()}
        succeeded = {r["key"] for r in backend.runs(prefix) if r["outcome"] == "succeeded"}
        return succeeded >= steady and dead_keys >= interrupted

    started = time.monotonic()
    wait_for(settled, timeout=90)
    time.sleep(2)  # a whole batch failing would bring its neighbours back: give it the chance
    runs = Counter(run["key"] for run in backend.runs(prefix))
    ours = [m for m in dead.values() if dead_letter_attribute(m, "job_id") in job_ids]
    report.add(
        f"base-exceptions[{backend.name}]",
        f"{len(keys)} jobs ({len(interrupted)} raising KeyboardInterrupt between two neighbours) "
        f"settled in {time.monotonic() - started:.1f} s; neighbours ran "
        f"{sum(runs[k] for k in steady)} times for {len(steady)}, the raising jobs "
        f"{sum(runs[k] for k in interrupted)} times (2 attempts each), {len(ours)} in the DLQ",
    )
    assert {key: runs[key] for key in steady} == dict.fromkeys(steady, 1)
    assert {key: runs[key] for key in interrupted} == dict.fromkeys(interrupted, 2)
    assert sorted(job_ids[dead_letter_attribute(m, "job_id") or ""] for m in ours) == sorted(
        interrupted
    )
    for message in ours:
        key = job_ids[dead_letter_attribute(message, "job_id") or ""]
        assert dead_letter_attribute(message, "reason") == "exhausted"
        assert dead_letter_attribute(message, "error_type") == "KeyboardInterrupt"
        assert dead_letter_attribute(message, "error_message") == f"{key}: interrupted on purpose"
        assert dead_letter_attribute(message, "attempts") == "2"
