"""The tasks of the operations tests under ``lambda-jobs local`` (the image of
``tests.tools.ops.ops_app``).

A test steers them with files: ``steered(path)`` fails while ``<path>.fail`` exists, else appends
one line (``ran <pid>``) to ``path``, so the number of lines is the number of runs. ``tick``
appends the firing's scheduled time to ``$OPS_TICKS`` (one line per firing).
"""

from __future__ import annotations

import os
from pathlib import Path

from lambda_jobs import JobContext, task


@task
def steered(path: str) -> None:
    if Path(path + ".fail").exists():
        raise RuntimeError(f"steered to fail ({Path(path).name})")
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(f"ran {os.getpid()}\n")


@task(queue_name="ordered")
def steered_in_order(path: str) -> None:
    steered.func(path)


@task(takes_context=True)
def tick(context: JobContext) -> None:
    log = os.environ.get("OPS_TICKS")
    if log and context.scheduled_time is not None:
        with Path(log).open("a", encoding="utf-8") as handle:
            handle.write(context.scheduled_time.isoformat() + "\n")
