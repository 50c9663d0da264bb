"""Tasks only the job-store benchmark's store-on runtime registers (``bench_store.py``).

A task under limits needs the job store (the cold start refuses one without), so it is kept out
of ``bench_tasks``, which every benchmark's store-off runtime imports too.
"""

from __future__ import annotations

from lambda_jobs import Concurrency, task


@task(limits=[Concurrency("bench-slots", 1000)])
def limited_noop() -> None:
    """Does nothing, under a concurrency limit no batch of the benchmark ever reaches."""


@task
def step_noop(*_previous: object) -> None:
    """Does nothing; takes (and ignores) its predecessor's result as a workflow step."""
