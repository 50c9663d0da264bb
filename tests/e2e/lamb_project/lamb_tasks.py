"""Tasks of the Lamb duplicate, size and remaining-time end-to-end tests.

Each run appends one JSON line to the file named by ``LAMB_LOG`` (set with ``--env``): the task,
the job's ``key``, attempt and what the run did, never the (large) arguments themselves, only
their length.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from lambda_jobs import JobContext, task


def record(task_name: str, **fields: Any) -> None:
    path = os.environ.get("LAMB_LOG")
    if path:
        line = {"task": task_name, **fields, "pid": os.getpid(), "at": time.time()}
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(line, sort_keys=True) + "\n")


@task(takes_context=True, retries=2, retry_backoff=3, retry_backoff_max=3, retry_jitter=False)
def flaky(context: JobContext, key: str, succeed_on: int = 2, blob: str = "") -> int:
    """Fails until attempt ``succeed_on``, 3 s between attempts; ``blob`` only makes it large."""
    outcome = "succeeded" if context.attempt >= succeed_on else "failed"
    record("flaky", key=key, attempt=context.attempt, outcome=outcome, blob=len(blob))
    if outcome == "failed":
        raise RuntimeError(f"{key}: attempt {context.attempt} fails on purpose")
    return context.attempt


@task(takes_context=True, retries=5)
def crash(context: JobContext, key: str, blob: str = "") -> None:
    """Kills its own process on every try: Lambda's retries, then its on-failure destination."""
    record("crash", key=key, attempt=context.attempt, blob=len(blob))
    os._exit(1)


@task(takes_context=True)
def remaining(context: JobContext, key: str) -> None:
    """Records ``remaining_seconds()`` of a task without a timeout."""
    record("remaining", key=key, seconds=context.remaining_seconds())


@task(takes_context=True, timeout=3)
def remaining_with_timeout(context: JobContext, key: str) -> None:
    """Records ``remaining_seconds()`` of a task with a 3 s timeout."""
    record("remaining", key=key, seconds=context.remaining_seconds())
