"""Tasks of the flow-control end-to-end tests (``tests/e2e/test_limits.py``, issue 20).

Each run appends one JSON line to the file named by ``LIMITS_LOG`` (set with ``--env``): the
series, the job's number, its attempt and when it started and ended (epoch seconds).
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from typing import Any

from lambda_jobs import Concurrency, JobContext, Rate, task

HOLD_S = 0.3


def record(**fields: Any) -> None:
    path = os.environ.get("LIMITS_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(fields, sort_keys=True) + "\n")


def _run(context: JobContext, series: str, n: int, hold: float) -> None:
    started = time.time()
    time.sleep(hold)
    record(series=series, n=n, attempt=context.attempt, start=started, end=time.time())


@task(takes_context=True, limits=[Concurrency("c", 3)])
def capped(context: JobContext, series: str, n: int) -> None:
    """At most 3 of these run at once, across every environment."""
    _run(context, series, n, HOLD_S)


@task(takes_context=True, limits=[Rate("r", 10, per=timedelta(seconds=1))])
def paced(context: JobContext, series: str, n: int) -> None:
    """At most 10 of these start in any second."""
    _run(context, series, n, 0.0)


@task(takes_context=True, limits=[Concurrency("per-account", 1, key=lambda account, **_: account)])
def per_account(context: JobContext, account: str, series: str, n: int) -> None:
    """One at a time per account; accounts run side by side."""
    started = time.time()
    time.sleep(HOLD_S)
    record(
        series=series,
        n=n,
        account=account,
        attempt=context.attempt,
        start=started,
        end=time.time(),
    )


@task(takes_context=True)
def free(context: JobContext, series: str, n: int) -> None:
    """No limits of its own: ``using(limits=...)`` gives one job some."""
    _run(context, series, n, HOLD_S)
