"""Tasks of the recursive-loop, hand-back, tenant and 1 MiB end-to-end tests.

Each run appends one JSON line to the file named by ``LOOP_LOG`` (set with ``--env``). ``chain``
enqueues its own follow-up from inside the function, as pagination or "process the next chunk"
does: through ``LAMBDA_JOBS_CONFIG=ssm:<parameter>``, the backend's published configuration.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from lambda_jobs import task


def record(task_name: str, **fields: Any) -> None:
    path = os.environ.get("LOOP_LOG")
    if path:
        line = {"task": task_name, **fields, "pid": os.getpid(), "at": time.time()}
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(line, sort_keys=True) + "\n")


@task
def chain(chain_id: str, n: int, total: int) -> None:
    """Step ``n`` of ``total``: records itself, then enqueues step ``n + 1``."""
    record("chain", chain_id=chain_id, n=n)
    if n < total:
        chain.enqueue(chain_id, n + 1, total)


@task
def note(tag: str) -> None:
    """Records ``tag``: the hand-back and tenant tests' job."""
    record("note", tag=tag)


@task
def measure(blob: str) -> None:
    """Records the size of its argument (never the argument): the 1 MiB test's job."""
    record("measure", size=len(blob))
