"""Django tasks run by the functions of ``lambda-jobs local``; each appends to a JSON-lines log."""

from __future__ import annotations

import json
import os
from typing import Any

from django.tasks import TaskContext, task


def append(line: dict[str, Any]) -> None:
    with open(os.environ["DJANGO_E2E_LOG"], "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


@task(takes_context=True, retries=1, retry_backoff=1)  # type: ignore[call-overload, untyped-decorator]
def greet(context: TaskContext[Any, Any], name: str) -> str:
    """Greets; a name starting with ``fail-once`` fails its first attempt."""
    append(
        {
            "task": "greet",
            "job_id": context.task_result.id,
            "attempt": context.attempt,
            "name": name,
            "priority": context.task_result.task.priority,
        }
    )
    if name.startswith("fail-once") and context.attempt == 1:
        raise RuntimeError("the first attempt fails on purpose")
    return f"Hello, {name}!"


@task
def big_result(size: int) -> str:
    """Returns ``size`` characters: over the job store's 64 KiB, the result is not stored."""
    return "x" * size
