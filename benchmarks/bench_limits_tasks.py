"""Tasks of the flow-control benchmark (``bench_limits.py``): no-op bodies under limits.

Kept apart from ``bench_tasks`` (which store-off runtimes import too): a task under limits needs
the job store, and the cold start refuses one without. The limits' ``n`` are out of reach of a
benchmark's batches, except ``full_noop``'s single slot, which the benchmark holds itself.
"""

from __future__ import annotations

from lambda_jobs import Concurrency, Rate, task


@task
def free_noop() -> None:
    """No limits: the baseline, with the job store on."""


@task(limits=[Concurrency("bench-lim-slots", 1000)])
def slot_noop() -> None:
    """Takes and gives back a concurrency slot."""


@task(limits=[Rate("bench-lim-rate", 1000, per=1.0)])
def paced_noop() -> None:
    """Takes a rate start."""


@task(limits=[Concurrency("bench-lim-waiters", 1000)])
def crowded_noop() -> None:
    """Takes a slot of a limit whose item lists 100 waiters ahead of it (each passed over)."""


@task(queue_name="waiting", limits=[Concurrency("bench-lim-full", 1)])
def full_noop() -> None:
    """Always refused: its one slot is held by the benchmark, so each job waits (hand-back). On a
    queue of its own, so that the delayed copies never reach another contender's batch."""
