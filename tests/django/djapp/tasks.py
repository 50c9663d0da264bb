"""Django tasks the tests enqueue and the handler runs (``LAMBDA_JOBS_TASKS`` names this module).

Each writes a file so that a test can see it ran, and what it received.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from django.tasks import TaskContext, task


@task
def write_text(path: str, text: str) -> str:
    Path(path).write_text(text, encoding="utf-8")
    return text


@task(queue_name="orders", priority=60)
def record_order(path: str, order: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(order), encoding="utf-8")


@task(takes_context=True, retries=2, retry_backoff=1, timeout=30)  # type: ignore[call-overload, untyped-decorator]
def flaky(context: TaskContext[Any, Any], path: str, succeed_on: int) -> int:
    """Append ``attempt`` to ``path``; fail until attempt ``succeed_on``."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{context.attempt}:{context.task_result.id}\n")
    if context.attempt < succeed_on:
        raise RuntimeError(f"attempt {context.attempt} fails on purpose")
    return context.attempt


@task
async def write_text_async(path: str, text: str) -> None:
    await asyncio.sleep(0)
    Path(path).write_text(text, encoding="utf-8")


@task(backend="immediate")
def on_immediate_backend(path: str) -> None:
    Path(path).write_text("immediate", encoding="utf-8")


@task(timeout=0.5)  # type: ignore[call-overload, untyped-decorator]
def sleepy(seconds: float) -> None:
    """Sleeps longer than its timeout: the handler must interrupt it."""
    time.sleep(seconds)


@task
def query_files_database() -> int:
    """Opens a connection to the ``files`` database; the worker must close it after the job."""
    from django.db import connections

    with connections["files"].cursor() as cursor:
        cursor.execute("SELECT 1")
        return int(cursor.fetchone()[0])


@task(takes_context=True)
def describe_task(context: TaskContext[Any, Any], path: str) -> None:
    """Write what ``TaskResult.task`` says inside the function: the task as it was enqueued."""
    seen = context.task_result.task
    Path(path).write_text(
        json.dumps(
            {
                "priority": seen.priority,
                "queue_name": seen.queue_name,
                "backend": seen.backend,
                "worker_ids": context.task_result.worker_ids,
            }
        ),
        encoding="utf-8",
    )


@task
def add_two(a: int, b: int) -> int:
    return a + b


@task(check_arguments=False)  # type: ignore[call-overload, untyped-decorator]
def add_two_unchecked(a: int, b: int) -> int:
    """The opt-out: arguments are sent as given, without binding them to the signature."""
    return a + b
