"""Tasks of the reliability suite under limits (``tests/soak/test_limits.py``).

Apart from ``soak_tasks``: a function whose tasks have limits refuses to start without a job
store (cold start names the task), so only the stacks with one list this module.
"""

from __future__ import annotations

import time

from lambda_jobs import Concurrency, JobContext, Rate, task
from soak_tasks import _record  # type: ignore[import-not-found]  # the task root is the path


@task(
    takes_context=True,
    retries=5,
    retry_backoff=1,
    retry_jitter=False,
    timeout=0.6,
    limits=[Concurrency("soak-c", 3)],
)
def capped(context: JobContext, key: str, seconds: float) -> None:
    """``lingering`` under ``Concurrency("soak-c", 3)``: at most 3 run at once, anywhere. A run
    the handler cuts at its time limit (the deadline's budget) writes ``interrupted``: it ended,
    and gave its slot back; only a killed run has no end."""
    _record(context, key, "started")
    try:
        time.sleep(seconds)
    except BaseException:
        _record(context, key, "interrupted")
        raise
    _record(context, key, "succeeded")


@task(takes_context=True, limits=[Rate("soak-r", 10, per=1.0)])
def paced(context: JobContext, key: str) -> None:
    """Under ``Rate("soak-r", 10)``: at most 10 granted starts in any second."""
    _record(context, key, "succeeded")
