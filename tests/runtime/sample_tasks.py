"""Tasks the handler tests run: each leaves an observable trace in a file the test chooses.

``LAMBDA_JOBS_TASKS=tests.runtime.sample_tasks`` makes these the function's runnable tasks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lambda_jobs import JobContext, task


def _append(path: str, line: str) -> int:
    """Append ``line`` to ``path``; returns how many lines it holds now."""
    with Path(path).open("a", encoding="utf-8") as file:
        file.write(line + "\n")
    return len(Path(path).read_text(encoding="utf-8").splitlines())


@task
def write_file(path: str, text: str) -> str:
    Path(path).write_text(text, encoding="utf-8")
    return text


@task(retries=2, retry_backoff=1, retry_jitter=False)
def fail_until(path: str, succeed_on: int) -> int:
    """Fails until it has been called ``succeed_on`` times (counted in the file)."""
    runs = _append(path, "run")
    if runs < succeed_on:
        raise RuntimeError(f"run {runs} fails on purpose")
    return runs


@task
def always_fail(path: str) -> None:
    _append(path, "run")
    raise ValueError("this task always fails")


@task(retries=3, retry_backoff=60, retry_jitter=False)
def fail_with_retries(path: str) -> None:
    _append(path, "run")
    raise ValueError("fails, with retries left")


@task(timeout=0.3)
def sleep_past_timeout(path: str, seconds: float) -> None:
    _append(path, "started")
    time.sleep(seconds)
    _append(path, "finished")


@task(timeout=0.3)
def swallow_timeout(path: str, seconds: float) -> str:
    """Catches every exception, the timeout included, and returns as if all went well."""
    _append(path, "started")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except Exception:
            _append(path, "swallowed")
    return "done"


@task
def sleep_unbounded(path: str, seconds: float) -> None:
    """No task timeout: only the function's deadline bounds it."""
    _append(path, "started")
    time.sleep(seconds)
    _append(path, "finished")


@task(timeout=10)
def long_timeout(path: str) -> None:
    """Needs 10 s of budget to be started after the first record of a batch."""
    _append(path, "run")


@task(takes_context=True, retries=4)
def record_context(context: JobContext, path: str) -> None:
    data: dict[str, Any] = {
        "job_id": context.job_id,
        "task_name": context.task_name,
        "queue_name": context.queue_name,
        "attempt": context.attempt,
        "max_attempts": context.max_attempts,
        "enqueued_at": context.enqueued_at.isoformat(),
        "remaining_seconds": context.remaining_seconds(),
        "is_last_attempt": context.is_last_attempt,
        "from_schedule": context.from_schedule,
        "schedule_name": context.schedule_name,
        "scheduled_time": context.scheduled_time.isoformat() if context.scheduled_time else None,
    }
    Path(path).write_text(json.dumps(data), encoding="utf-8")


@task(retries=3)
def exit_process(path: str) -> None:
    """Calls sys.exit: must be a failed attempt, not the end of the Lambda process."""
    import sys

    _append(path, "run")
    sys.exit(3)


@task
def kill_process(path: str) -> None:
    """Ends the whole process at once (``os._exit``), as a segfault or running out of memory do:
    no exception, nothing runs after it."""
    import os

    _append(path, "run")
    os._exit(1)


@task
def fail_loudly(size: int) -> None:
    """Raises with a message of about ``size`` characters: "<start", x..., "end>"."""
    raise ValueError("<start" + "x" * size + "end>")


@task
def drop_table(path: str, table: str) -> None:
    """Deletes the DynamoDB table ``table`` (the job store goes down mid-batch)."""
    import boto3

    boto3.client("dynamodb").delete_table(TableName=table)
    _append(path, "dropped")


@task
def give_back(kind: str) -> Any:
    """Returns a value the job store cannot keep (``set``, ``big``) or a small one."""
    if kind == "set":
        return {1, 2}
    if kind == "big":
        return "x" * (70 * 1024)
    return {"kind": kind, "ok": True}
