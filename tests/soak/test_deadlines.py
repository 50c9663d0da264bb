"""Faults: deadlines hit mid-batch on a 2 s Goat function lose no job and use no attempt.

Batches of 10 records cannot finish in one 2 s invocation (deadline margin 0.8 s, so a 1.2 s
budget): ``lingering`` jobs (0.25 s each, ``timeout=0.6``) run a few per invocation and the handler
hands the rest back before the deadline (a re-sent copy at the same attempt). Every tenth job is
``overrunning``: its first attempt would run 5 s, so the handler cuts it at the budget
(``JobTimeoutError``, a failed attempt, logged as ``retrying``) wherever in the batch it started,
hands back the records after it, and the retry succeeds.

Checked: every job succeeded; each ``lingering`` job succeeded on attempt 1 (hand-backs cost no
attempt); each ``overrunning`` job's first attempt was cut and its second succeeded; hand-backs
happened (the handler's ``handed_back`` lines); nothing is in the DLQ.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from lambda_jobs import enqueue_many

from tests.soak import report
from tests.soak.conftest import SoakBackend, dead_letter_attribute
from tests.soak.sizes import DEADLINE_JOBS
from tests.soak.soak_jobs import soak_tasks, succeeded_keys, wait_for

pytestmark = pytest.mark.e2e

OVERRUN_S = 5.0


@pytest.mark.parametrize("soak_backend", ["goat-short"], indirect=True)
def test_faults_deadlines_hit_mid_batch_hand_back_and_retry_without_losing_a_job(
    soak_backend: SoakBackend,
) -> None:
    backend = soak_backend
    prefix = "deadline-"
    keys = {f"{prefix}{index:05d}": index % 10 == 5 for index in range(DEADLINE_JOBS)}
    prepared = [
        soak_tasks.overrunning.prepare(key, OVERRUN_S)
        if overruns
        else soak_tasks.lingering.prepare(key, 0.25)
        for key, overruns in keys.items()
    ]
    enqueue_many(prepared)
    ids = {job.id: key for job, key in zip(prepared, keys, strict=True)}
    wait_for(
        lambda: len(succeeded_keys(backend, prefix)) == len(keys),
        timeout=60 + DEADLINE_JOBS * 0.5,
    )
    runs = backend.runs(prefix)
    succeeded = succeeded_keys(backend, prefix)
    handed_back = [line for line in backend.function_lines("handed_back") if line["id"] in ids]
    retrying = [line for line in backend.function_lines("retrying") if line["id"] in ids]
    dead: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(dead)
    dead_ours = [m for m in dead.values() if dead_letter_attribute(m, "job_id") in ids]
    completions = Counter(run["key"] for run in runs if run["outcome"] == "succeeded")
    lost = sorted(set(keys) - succeeded)
    report.add(
        "deadlines[goat]",
        f"{len(keys)} jobs ({sum(keys.values())} overrunning the deadline) in batches of 10 on a "
        f"2 s function; {len(handed_back)} records handed back, {len(retrying)} attempts cut at "
        f"the deadline and retried; {sum(1 for r in runs if r['outcome'] == 'started')} "
        f"executions, {sum(c - 1 for c in completions.values())} duplicate completions, "
        f"{len(dead_ours)} in the DLQ, {len(lost)} lost",
    )
    assert not lost, f"jobs that never succeeded: {lost[:20]}"
    assert not dead_ours
    assert handed_back, "no record was handed back: the batches did not hit the deadline"
    for run in runs:
        if run["outcome"] == "succeeded":
            assert run["attempt"] == (2 if keys[run["key"]] else 1), run
    cut = {
        ids[line["id"]]
        for line in retrying
        if str(line.get("error_type")).endswith("JobTimeoutError")
    }
    assert cut == {key for key, overruns in keys.items() if overruns}, retrying[:5]
