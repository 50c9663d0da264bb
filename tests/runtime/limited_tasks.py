"""A task module with a limited task, for the cold-start refusal without a job store."""

from __future__ import annotations

from lambda_jobs import Concurrency, task


@task(limits=[Concurrency("unit-cold-start", 2)])
def limited_job(n: int) -> int:
    return n
