"""Run a Django task as a lambda-jobs job: the bridge between the two task models.

:func:`job_task_for` makes the lambda-jobs :class:`~lambda_jobs.tasks.Task` that stands for a
Django task: its name is the Django task's ``module_path`` (what the envelope's ``task`` field
carries), its options are the Django task's, and its function is a :class:`DjangoTaskRunner`.
The same object serves the enqueue side (envelope fields; ``inline`` runs it in-process) and the
handler (registered by :func:`lambda_jobs.django.worker.register_tasks`).

The lambda-jobs task always ``takes_context``: the handler passes the runner its
:class:`~lambda_jobs.context.JobContext`, and the runner hands the Django function a Django
``TaskContext`` instead (when the Django task ``takes_context``) whose ``attempt`` is the job's real
attempt number. Around the call it sends Django's ``task_started`` and ``task_finished`` signals,
as Django's own backends do. For a coroutine function the runner returns a coroutine that the
worker's attempt runner awaits (:mod:`lambda_jobs.worker.coroutine`), as for any ``async def`` task.
"""

from __future__ import annotations

import inspect
import os
import socket
from asyncio import CancelledError
from typing import TYPE_CHECKING, Any

from django.db import close_old_connections
from django.tasks import TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json

from lambda_jobs.errors import JobTimeoutError
from lambda_jobs.tasks import Task as JobTask

if TYPE_CHECKING:
    from datetime import datetime

    from django.tasks import Task

    from lambda_jobs.context import JobContext
    from lambda_jobs.django.options import JobDefaults

#: Stands in ``TaskResult.worker_ids`` for earlier attempts, whose worker is not recorded.
UNKNOWN_WORKER = "unknown"


def worker_id() -> str:
    """The worker id of this attempt: the Lambda request id of the invocation running it.

    The same value the job store records per attempt, so ``TaskResult.worker_ids`` means one
    thing inside the function and in ``get_result``. Outside an invocation (``inline``): this
    host and process.
    """
    from lambda_jobs.worker.dispatch import current

    return current.request_id or f"{socket.gethostname()}:{os.getpid()}"


class DjangoTaskRunner:
    """The function of the lambda-jobs task standing for ``django_task``.

    Called by the handler (or ``inline``) as ``runner(job_context, *args, **kwargs)``. Returns what
    the Django function returns; an exception propagates unchanged after ``task_finished`` (status
    FAILED) has been sent, so the handler retries or dead-letters the job as for any task.

    ``result`` (inline mode) is the ``TaskResult`` that ``enqueue`` returns: each attempt updates it
    in place, as Django's ImmediateBackend does, and the first attempt sends ``task_enqueued``
    before ``task_started`` (the job was accepted: inline validates every job before running
    any). Otherwise (in the handler) each attempt makes its own result, and database connections
    that are broken or past ``CONN_MAX_AGE`` are closed before and after it, as Django does around
    each web request: a Lambda environment is frozen between invocations, and a job must not
    inherit a dead connection. (Inline, the caller's request owns its connections.) A coroutine
    function's attempt is awaited after the call returns, so its connections are closed before
    the next attempt instead (Django refuses synchronous database calls inside a running loop).
    """

    __slots__ = ("django_task", "result")

    def __init__(
        self, django_task: Task[..., Any], result: TaskResult[..., Any] | None = None
    ) -> None:
        self.django_task = django_task
        self.result = result

    def __repr__(self) -> str:
        return f"<DjangoTaskRunner {self.django_task.module_path}>"

    def __call__(self, context: JobContext, *args: Any, **kwargs: Any) -> Any:
        if self.result is not None:  # inline
            if self.result.enqueued_at is None:
                object.__setattr__(self.result, "enqueued_at", timezone.now())
                sender = type(self.django_task.get_backend())
                task_enqueued.send(sender=sender, task_result=self.result)
            return self._run(context, args, kwargs)
        close_old_connections()
        try:
            return self._run(context, args, kwargs)
        finally:
            close_old_connections()

    def _run(self, context: JobContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        task = self.django_task
        sender = type(task.get_backend())
        result = self._start(context, args, kwargs)
        task_started.send(sender=sender, task_result=result)
        call_args = (TaskContext(task_result=result), *args) if task.takes_context else args
        if inspect.iscoroutinefunction(task.func):
            # The worker's attempt runner drives it (lambda_jobs.worker.coroutine), under the
            # attempt's time limit, also from a thread where a loop runs or no signal reaches.
            return self._awaited(result, sender, task.func(*call_args, **kwargs))
        try:
            value = task.func(*call_args, **kwargs)
        except BaseException as exc:
            self._failed(result, sender, exc)
            raise
        return self._returned(result, sender, value)

    async def _awaited(self, result: TaskResult[..., Any], sender: type, coroutine: Any) -> Any:
        try:
            value = await coroutine
        except BaseException as exc:
            # Cancelled at the time limit: the attempt fails with the JobTimeoutError it carries.
            timeout = exc.args[0] if isinstance(exc, CancelledError) and exc.args else None
            self._failed(result, sender, timeout if isinstance(timeout, JobTimeoutError) else exc)
            raise
        return self._returned(result, sender, value)

    def _returned(self, result: TaskResult[..., Any], sender: type, value: Any) -> Any:
        """Settle a returned attempt: Django keeps return values as JSON, so a value that is not
        JSON fails the attempt."""
        try:
            returned = normalize_json(value)
        except BaseException as exc:
            self._failed(result, sender, exc)
            raise
        object.__setattr__(result, "_return_value", returned)
        self._finish(result, TaskResultStatus.SUCCESSFUL)
        task_finished.send(sender=sender, task_result=result)
        return value

    def _failed(self, result: TaskResult[..., Any], sender: type, exc: BaseException) -> None:
        import traceback

        exc_type = type(exc)
        result.errors.append(
            TaskError(
                exception_class_path=f"{exc_type.__module__}.{exc_type.__qualname__}",
                traceback="".join(traceback.format_exception(exc)),
            )
        )
        self._finish(result, TaskResultStatus.FAILED)
        task_finished.send(sender=sender, task_result=result)

    def _start(
        self, context: JobContext, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> TaskResult[..., Any]:
        """The RUNNING result of this attempt; ``worker_ids`` has one entry per attempt.

        Django's ``TaskContext.attempt`` is ``len(worker_ids)``: earlier attempts whose worker is
        not known here count as :data:`UNKNOWN_WORKER`.
        """
        now = timezone.now()
        earlier = [] if self.result is None else self.result.worker_ids[: context.attempt - 1]
        earlier += [UNKNOWN_WORKER] * (context.attempt - 1 - len(earlier))
        workers = [*earlier, worker_id()]
        if self.result is None:
            return TaskResult(
                task=self._as_enqueued(context),
                id=context.job_id,
                status=TaskResultStatus.RUNNING,
                enqueued_at=context.enqueued_at,
                started_at=now,
                last_attempted_at=now,
                finished_at=None,
                args=list(args),
                kwargs=dict(kwargs),
                backend=self.django_task.backend,
                errors=[],
                worker_ids=workers,
            )
        result = self.result
        # TaskResult is a frozen dataclass: Django's own backends update it the same way.
        if result.started_at is None:
            object.__setattr__(result, "started_at", now)
        object.__setattr__(result, "status", TaskResultStatus.RUNNING)
        object.__setattr__(result, "last_attempted_at", now)
        object.__setattr__(result, "finished_at", None)
        result.worker_ids[:] = workers
        return result

    def _as_enqueued(self, context: JobContext) -> Task[..., Any]:
        """The Django task with the queue and priority this job was enqueued with (``using``).

        The backend alias stays the declared one: the message does not carry Django's alias.
        """
        from lambda_jobs.django.task import as_enqueued

        return as_enqueued(
            self.django_task, queue_name=context.queue_name, priority=context.priority
        )

    @staticmethod
    def _finish(result: TaskResult[..., Any], status: TaskResultStatus) -> None:
        object.__setattr__(result, "status", status)
        object.__setattr__(result, "finished_at", timezone.now())


def job_task_for(
    django_task: Task[..., Any],
    options: JobDefaults,
    *,
    run_after: datetime | None = None,
    result: TaskResult[..., Any] | None = None,
) -> JobTask[..., Any]:
    """The lambda-jobs task standing for ``django_task``, with its resolved retry and timeout.

    ``run_after`` is the delay to send with (the enqueue side passes it; a worker has none);
    ``result`` is the inline ``TaskResult`` to update (see :class:`DjangoTaskRunner`).
    """
    return JobTask(
        func=DjangoTaskRunner(django_task, result),
        name=django_task.module_path,
        queue_name=django_task.queue_name,
        priority=django_task.priority,
        retry=options.retry,
        timeout=options.timeout,
        takes_context=True,
        run_after=run_after,
    )
