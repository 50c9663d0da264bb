"""The tasks module the benchmarks give the handler (``LAMBDA_JOBS_TASKS=bench_tasks``).

One no-op task, so that what is measured is the handler's own work around a task body that costs
nothing.
"""

from __future__ import annotations

from lambda_jobs import task


@task
def noop() -> None:
    """Does nothing; its registered name is ``bench_tasks.noop``."""


NOOP_NAME = noop.name
