"""The tasks module the benchmarks give the handler (``LAMBDA_JOBS_TASKS=bench_tasks``).

One no-op task, so that what is measured is the handler's own work around a task body that costs
nothing, and its ``async def`` twin (what running a coroutine adds: its event loop).
"""

from __future__ import annotations

from lambda_jobs import task


@task
def noop() -> None:
    """Does nothing; its registered name is ``bench_tasks.noop``."""


@task
async def async_noop() -> None:
    """Does nothing, as a coroutine; its registered name is ``bench_tasks.async_noop``."""


NOOP_NAME = noop.name
ASYNC_NOOP_NAME = async_noop.name
