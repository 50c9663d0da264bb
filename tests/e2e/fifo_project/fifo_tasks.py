"""Tasks of the FIFO end-to-end tests (``tests/e2e/test_fifo.py``), on the ``ordered`` FIFO queue.

Each run appends one JSON line to the file named by ``FIFO_LOG`` (set with ``--env``): which
series and step it is, the attempt, and whether it failed.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from lambda_jobs import JobContext, task


def record(**fields: Any) -> None:
    path = os.environ.get("FIFO_LOG")
    if path:
        line = {**fields, "pid": os.getpid(), "at": time.time()}
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(line, sort_keys=True) + "\n")


@task(
    takes_context=True,
    queue_name="ordered",
    message_group_id="steps",
    retries=2,
    retry_backoff=1,
    retry_jitter=False,
)
def step(context: JobContext, series: str, n: int, fail_on: int = -1) -> None:
    """Step ``n`` of ``series``; step ``fail_on`` fails on its first attempt (issue 27's job)."""
    failed = n == fail_on and context.attempt == 1
    record(task="step", series=series, n=n, attempt=context.attempt, failed=failed)
    if failed:
        raise RuntimeError(f"step {n} fails once on purpose")


@task(queue_name="ordered", message_group_id="handed", retries=9)
def handed(series: str, n: int) -> None:
    """Step ``n`` of ``series`` on a function that runs one job per invocation and hands the rest
    back (each hand-back on FIFO costs a receive, hence the retries)."""
    record(task="handed", series=series, n=n)
