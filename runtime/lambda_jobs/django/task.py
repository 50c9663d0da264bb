"""The Django ``Task`` class of the lambda-jobs backend: Django's, plus per-task job options.

Django 6.1's ``@task`` decorator hands extra keyword arguments to the backend's ``task_class``, so
with ``BACKEND = "lambda_jobs.django.LambdaJobsBackend"`` a task can declare::

    @task(retries=3, retry_backoff=10, timeout=60)
    def send_welcome_email(user_id: int) -> None: ...

Each option left at None takes the backend's ``OPTIONS`` default, then the lambda-jobs default
(see :mod:`lambda_jobs.django.options`). Ranges are those of ``lambda_jobs.task`` and are checked by
``validate_task`` when the task is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.tasks import Task

from lambda_jobs.django.options import JOB_OPTION_KEYS

if TYPE_CHECKING:
    from typing import TypeAlias

    # django-stubs make Task generic; at run time it is a plain dataclass (not subscriptable).
    _TaskBase: TypeAlias = Task[..., Any]  # noqa: UP040 (a `type` alias cannot be a base)
else:
    _TaskBase = Task


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaJobsTask(_TaskBase):
    """A Django task with lambda-jobs options; every field is optional (None: backend default)."""

    retries: int | None = None
    """Attempts after the first, 0..50."""
    retry_backoff: float | int | timedelta | None = None
    """Wait before the first retry, doubled each retry."""
    retry_backoff_max: float | int | timedelta | None = None
    """Cap of that wait, at most 12 h."""
    retry_jitter: bool | None = None
    """Draw each wait from the upper half of its nominal value."""
    timeout: float | int | timedelta | None = None
    """Seconds one attempt may run, at most 900 (None: the backend default, else the function's)."""
    check_arguments: bool = True
    """False: ``enqueue`` does not bind the arguments to the function's signature."""


def checks_arguments(task: Task[..., Any]) -> bool:
    """Whether ``enqueue`` binds ``task``'s arguments to its signature (plain Django tasks do)."""
    return not isinstance(task, LambdaJobsTask) or task.check_arguments is not False


def task_job_options(task: Task[..., Any]) -> dict[str, Any]:
    """The job options ``task`` sets itself (an empty dict for a plain Django ``Task``)."""
    if not isinstance(task, LambdaJobsTask):
        return {}
    return {
        name: getattr(task, name) for name in JOB_OPTION_KEYS if getattr(task, name) is not None
    }


def as_enqueued(task: Task[..., Any], **enqueued: Any) -> Task[..., Any]:
    """``task`` as a job of it was enqueued: ``task.using(...)`` with each given value (None: not
    known) that differs from the task's own (Django: ``TaskResult.task`` is "the Task the result
    was enqueued for"). The declared task if the settings no longer allow those values (they
    changed since the job was enqueued)."""
    from django.tasks.exceptions import InvalidTask, InvalidTaskBackend

    changes = {
        name: value
        for name, value in enqueued.items()
        if value is not None and value != getattr(task, name)
    }
    if not changes:
        return task
    try:
        return task.using(**changes)
    except (InvalidTask, InvalidTaskBackend):
        return task
