"""The process-wide table of tasks, by name.

A task registers itself when its ``@task`` decorator runs, i.e. when its module is imported. The
handler takes a snapshot after importing ``LAMBDA_JOBS_TASKS`` and runs only names in that snapshot:
a task that appears later (imported by some job at run time) is never runnable from a message.
"""

from __future__ import annotations

from lambda_jobs.errors import InvalidTaskError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from lambda_jobs.tasks import Task

_TASKS: dict[str, Task[..., Any]] = {}


def register(task: Task[..., Any]) -> None:
    """Add ``task``; a different function under the same name is an error (two tasks, one name)."""
    existing = _TASKS.get(task.name)
    if existing is not None and existing.func is not task.func:
        if getattr(existing.func, "__code__", None) is getattr(task.func, "__code__", object()):
            # The same source re-executed (module reloaded): the newer definition wins.
            _TASKS[task.name] = task
            return
        raise InvalidTaskError(
            f"two different functions are registered as task {task.name!r}; "
            "give one of them another name with @task(name=...)"
        )
    _TASKS[task.name] = task


#: ``get(name)``: the task registered under ``name``, or None (the table's own ``get``, so the
#: handler's lookup per job is one C call).
get: Callable[[str], Task[..., Any] | None] = _TASKS.get


def names() -> frozenset[str]:
    """The names registered so far (a snapshot)."""
    return frozenset(_TASKS)
