"""Tasks of the reliability suite: every run appends one JSON line to ``$LAMBDA_JOBS_SOAK_LOG``.

The line holds the job's key (its argument), id, attempt and what the run did, so the test can
count executions per job: none lost, duplicates (at-least-once) counted.
"""

from __future__ import annotations

import json
import os
import time

from lambda_jobs import JobContext, task


def _record(context: JobContext, key: str, outcome: str) -> None:
    line = {
        "key": key,
        "job_id": context.job_id,
        "task": context.task_name,
        "attempt": context.attempt,
        "outcome": outcome,
        "pid": os.getpid(),
        "at": time.time(),
    }
    with open(os.environ["LAMBDA_JOBS_SOAK_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


@task(takes_context=True)
def steady(context: JobContext, key: str) -> None:
    """Succeeds at once."""
    _record(context, key, "succeeded")


@task(takes_context=True, retries=2, retry_backoff=1, retry_jitter=False)
def flaky(context: JobContext, key: str) -> None:
    """Fails on its first attempt, succeeds on its second."""
    if context.attempt == 1:
        _record(context, key, "failed")
        raise RuntimeError(f"{key}: fails on its first attempt on purpose")
    _record(context, key, "succeeded")


@task(takes_context=True, retries=1, retry_backoff=1, retry_jitter=False)
def doomed(context: JobContext, key: str) -> None:
    """Fails on every attempt (two), so it ends in the dead-letter queue."""
    _record(context, key, "failed")
    raise RuntimeError(f"{key}: always fails on purpose")
