"""``LambdaJobsBackend``: a Django Tasks backend that sends tasks to a lambda-jobs backend.

A Django project switches by settings alone::

    TASKS = {
        "default": {
            "BACKEND": "lambda_jobs.django.LambdaJobsBackend",
            "QUEUES": ["default", "emails"],          # optional: all queues of the config
            "OPTIONS": {"config": "ssm:/myapp/jobs", "retries": 2, "timeout": 60},
        }
    }

``enqueue`` validates the task against the backend's client configuration, refuses arguments that
are not JSON or do not fit the function's signature (:class:`InvalidTaskArguments`), sends one job
through :func:`lambda_jobs.backends.enqueue` (the envelope's ``task`` is the Django
task's ``module_path``, its ``overrides`` carry the resolved retries, backoff and timeout), sends
``task_enqueued`` and returns a ``TaskResult`` whose ``id`` is the job id and whose status is READY.
With the ``inline`` configuration the job runs in this process before ``enqueue`` returns, and the
result carries its outcome.

With the backend's job store (``job_store=JobStore(...)`` on the construct, ``job_store`` in the
client configuration) ``supports_get_result`` is True and :meth:`LambdaJobsBackend.get_result`
(so ``TaskResult.refresh()``) reads the job's item: status (enqueued and retrying are READY,
running RUNNING, succeeded SUCCESSFUL, failed and cancelled FAILED), return value, last error
(``errors`` holds it, with its traceback), times and one worker id per attempt (the Lambda request
ids). ``args``/``kwargs`` of such a result are empty: the store never records arguments; ``task``
is the task as enqueued (queue, priority, ``run_after``, this backend's alias); every error's
``exception_class`` resolves. An id no job can have raises ``TaskResultDoesNotExist``. Without a
store it is False and ``get_result`` raises ``NotImplementedError`` as Django's contract says.
Enqueue after a database commit with ``transaction.on_commit(lambda: my_task.enqueue(...))``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from django.core.checks import CheckMessage
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import InvalidTask, InvalidTaskBackend
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.json import normalize_json

from lambda_jobs import config as client_config
from lambda_jobs.config import ClientConfig
from lambda_jobs.django.options import BackendOptions, JobDefaults, job_defaults, parse_options
from lambda_jobs.django.task import (
    LambdaJobsTask,
    as_enqueued,
    checks_arguments,
    task_job_options,
)
from lambda_jobs.errors import ConfigurationError, InvalidJobError, InvalidTaskError
from lambda_jobs.options import check_queue_name

#: Where the client configuration of a backend comes from.
ConfigSource = Literal["options", "environment"]


class InvalidTaskArguments(InvalidTask, TypeError):
    """Arguments ``enqueue`` refuses: not JSON, or not fitting the task function's signature.

    Both of Django's contracts hold: it is an ``InvalidTask`` (the backend refuses the call) and a
    ``TypeError``, what Django's own backends raise for an argument that is not JSON ("Unsupported
    type", from ``normalize_json``) and what Python raises for a call the function cannot take.
    """


class LambdaJobsBackend(BaseTaskBackend):
    """Django Tasks backend for lambda-jobs (Lamb or Goat, chosen by the client configuration)."""

    task_class = LambdaJobsTask
    supports_defer = True
    """Delays up to the configuration's ``max_delay_seconds`` (SQS delay or Scheduler)."""
    supports_async_task = True
    """Coroutine functions are run to completion in the handler."""
    supports_priority = True
    """Priority picks the queue lane whose band holds it."""

    @property
    def supports_get_result(self) -> bool:  # type: ignore[override]
        """True when the backend's client configuration has a job store.

        Reading it reads the configuration, so an ``ssm:`` one is fetched then (one SSM call,
        kept for the process) rather than reading False until the first enqueue. A configuration
        that cannot be read gives False; ``enqueue`` and the system checks say what is wrong.
        """
        try:
            return self.client_config().job_store is not None
        except InvalidTaskBackend:
            return False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        if "QUEUES" not in params:
            # Django's default is {"default"}; here the client configuration lists the queues.
            self.queues = set()
        self.parsed_options: BackendOptions = parse_options(params.get("OPTIONS", {}))
        self._config: ClientConfig | None = None

    # Client configuration -------------------------------------------------------------------------

    @property
    def config_source(self) -> ConfigSource:
        return "options" if self.parsed_options.config is not None else "environment"

    def describe_config_source(self) -> str:
        """Where the configuration comes from, as error messages name it."""
        if self.config_source == "options":
            return f"TASKS[{self.alias!r}]['OPTIONS']['config']"
        return client_config.ENV_VAR

    def config_is_remote(self) -> bool:
        """True when reading the configuration needs a network call (``ssm:<name>``)."""
        raw = self.parsed_options.config
        value = raw if self.config_source == "options" else os.environ.get(client_config.ENV_VAR)
        return isinstance(value, str) and value.strip().startswith("ssm:")

    def client_config(self) -> ClientConfig:
        """The backend's client configuration, read once (``ssm:`` fetched on first use).

        Raises Django's ``InvalidTaskBackend`` (an ``ImproperlyConfigured``) naming the source when
        it is missing or invalid.
        """
        if self._config is not None:
            return self._config
        raw = self.parsed_options.config
        try:
            if isinstance(raw, dict):
                found = client_config.parse(raw)
            elif isinstance(raw, str):
                found = client_config.resolve(raw)
            else:
                # LAMBDA_JOBS_CONFIG is re-read each time: it caches per value itself.
                return client_config.load()
        except ConfigurationError as exc:
            raise InvalidTaskBackend(
                f"TASKS[{self.alias!r}]: {self.describe_config_source()} is not a usable "
                f"lambda-jobs client configuration: {exc}"
            ) from exc
        self._config = found
        return found

    def known_config(self) -> ClientConfig | None:
        """The configuration if it can be had without a network call and is valid, else None.

        ``validate_task`` runs when a task is declared (at import): it checks queues and delays
        against this, and leaves a missing, invalid or remote configuration to ``enqueue`` and to
        the system checks.
        """
        if self._config is None and self.config_is_remote():
            return None
        try:
            return self.client_config()
        except InvalidTaskBackend:
            return None

    # Task validation ------------------------------------------------------------------------------

    def job_options(self, task: Task[..., Any]) -> JobDefaults:
        """Retry policy and timeout of ``task``: its own options over the ``OPTIONS`` defaults."""
        values = {**self.parsed_options.raw_defaults, **task_job_options(task)}
        try:
            return job_defaults(values)
        except InvalidTaskError as exc:
            raise InvalidTask(f"Task {task.module_path}: {exc}") from exc

    def validate_task(self, task: Task[..., Any]) -> None:
        """Reject, with ``InvalidTask``, what this backend cannot run (see :meth:`check_task`)."""
        self.check_task(task, self.known_config())

    def check_task(self, task: Task[..., Any], config: ClientConfig | None) -> None:
        """Django's rules, then the job options, queue and delay against ``config`` (if known)."""
        if self.queues and task.queue_name not in self.queues:
            raise InvalidTask(
                f"Queue {task.queue_name!r} is not in TASKS[{self.alias!r}]['QUEUES'] "
                f"({', '.join(sorted(self.queues))})."
            )
        super().validate_task(task)
        self.job_options(task)
        try:
            check_queue_name(task.queue_name)
        except InvalidTaskError as exc:
            raise InvalidTask(str(exc)) from exc
        if config is not None and not config.is_inline and task.queue_name not in config.queues:
            raise InvalidTask(
                f"Queue {task.queue_name!r} is not a queue of this lambda-jobs backend "
                f"({self.describe_config_source()}); it has: {', '.join(sorted(config.queues))}."
            )
        if task.run_after is not None:
            self._check_run_after(task.run_after, task.queue_name, config)

    def _check_run_after(
        self, run_after: datetime, queue_name: str, config: ClientConfig | None
    ) -> None:
        if not timezone.is_aware(run_after):
            raise InvalidTask(
                "run_after must be an aware datetime (e.g. datetime.now(UTC) + timedelta(...)), "
                "also with USE_TZ = False: a job's start time is absolute."
            )
        if config is None:
            return
        delay = (run_after - datetime.now(UTC)).total_seconds()
        if delay > config.max_delay_seconds:
            hint = (
                " Deploy the backend with a scheduler to allow longer delays."
                if config.scheduler is None and not config.is_inline
                else ""
            )
            raise InvalidTask(
                f"run_after is {delay:.0f} s away; this backend accepts delays of at most "
                f"{config.max_delay_seconds} s (max_delay_seconds).{hint}"
            )
        queue = config.queues.get(queue_name)
        if delay > 0 and queue is not None and queue.fifo and config.scheduler is None:
            raise InvalidTask(
                f"Queue {queue_name!r} is FIFO and SQS FIFO queues take no per-message delay, so "
                "run_after needs EventBridge Scheduler, and this backend's configuration has "
                '"scheduler": null. Deploy it with a scheduler or drop run_after.'
            )

    # Enqueue --------------------------------------------------------------------------------------

    def enqueue[**P, R](
        self, task: Task[P, R], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> TaskResult[P, R]:
        """Send one job for ``task``; see the module docstring for what callers may rely on."""
        from lambda_jobs.backends import enqueue
        from lambda_jobs.django.runner import job_task_for
        from lambda_jobs.job import PreparedJob

        config = self.client_config()
        self.check_task(task, config)
        options = self.job_options(task)
        if checks_arguments(task):
            bind_arguments(task, tuple(args), dict(kwargs))
        json_args, json_kwargs = json_arguments(task, args, kwargs)
        result: TaskResult[P, R] = TaskResult(
            task=task,
            id="",
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=json_args,
            kwargs=json_kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        job_task = job_task_for(
            task,
            options,
            run_after=_pending_run_after(task.run_after),
            result=result if config.is_inline else None,
        )
        prepared = PreparedJob(
            task=job_task,
            args=tuple(json_args),
            kwargs=json_kwargs,
            overrides=options.overrides(),
        )
        object.__setattr__(result, "id", prepared.id)
        try:
            (job,) = enqueue([prepared], config, single=True)
        except InvalidJobError as exc:
            raise InvalidTask(str(exc)) from exc  # the message starts with the task name
        if not config.is_inline:
            # Inline, the runner sent task_enqueued once the job was accepted, before it ran.
            object.__setattr__(result, "enqueued_at", job.enqueued_at)
            task_enqueued.send(type(self), task_result=result)
        return result

    # Results --------------------------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        """The ``TaskResult`` of job ``result_id`` from the job store (see the module docstring).

        Raises ``TaskResultDoesNotExist`` for an id the store does not have (or whose item
        expired) and ``NotImplementedError`` when the backend has no job store.
        """
        from django.tasks.exceptions import TaskResultDoesNotExist
        from django.utils.module_loading import import_string

        from lambda_jobs.errors import UnknownJobError
        from lambda_jobs.jobstore.records import get_job

        config = self.client_config()
        if config.job_store is None:
            raise NotImplementedError(
                f"TASKS[{self.alias!r}]: this lambda-jobs backend has no job store, so results "
                "cannot be retrieved; deploy it with job_store=JobStore(...)"
            )
        try:
            job = get_job(result_id, config)
        except UnknownJobError as exc:
            raise TaskResultDoesNotExist(str(exc)) from exc
        try:
            task = import_string(job.task_name)
        except ImportError as exc:
            raise TaskResultDoesNotExist(
                f"job {result_id} is of task {job.task_name!r}, which cannot be imported here"
            ) from exc
        if not isinstance(task, Task):
            raise TaskResultDoesNotExist(
                f"job {result_id} is of {job.task_name!r}, which is not a Django task"
            )
        errors = []
        if job.error_type is not None:
            errors.append(
                TaskError(
                    exception_class_path=_class_path(job.error_type),
                    traceback=job.error_traceback or _error_line(job.error_type, job.error_message),
                )
            )
        task = as_enqueued(
            task,
            queue_name=job.queue_name or None,
            priority=job.priority,
            run_after=job.run_after,
            backend=self.alias,
        )
        result: TaskResult[..., Any] = TaskResult(
            task=task,
            id=job.id,
            status=_STATUSES[job.status],
            enqueued_at=job.enqueued_at,
            started_at=job.started_at,
            last_attempted_at=job.started_at,
            finished_at=job.finished_at,
            args=[],
            kwargs={},
            backend=self.alias,
            errors=errors,
            worker_ids=list(job.worker_ids),
        )
        object.__setattr__(result, "_return_value", job.return_value)
        return result

    # System checks --------------------------------------------------------------------------------

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        """Misconfiguration as Django system checks (``lambda_jobs.E001``... ``W001``)."""
        from lambda_jobs.django.checks import backend_checks

        return backend_checks(self)


_STATUSES = {
    "enqueued": TaskResultStatus.READY,
    "retrying": TaskResultStatus.READY,
    "running": TaskResultStatus.RUNNING,
    "succeeded": TaskResultStatus.SUCCESSFUL,
    "failed": TaskResultStatus.FAILED,
    "cancelled": TaskResultStatus.FAILED,
}


def _class_path(error_type: str) -> str:
    """A lambda-jobs error type as Django's importable ``exception_class_path``.

    The job store records built-in exceptions by bare name (``ValueError``) and the runtime's own
    outcomes by the names its logs use (``IncompleteAttempts``); both resolve to a class here.
    """
    import builtins

    import lambda_jobs.errors

    if "." in error_type:
        return error_type
    if isinstance(getattr(builtins, error_type, None), type):
        return f"builtins.{error_type}"
    if isinstance(getattr(lambda_jobs.errors, error_type, None), type):
        return f"lambda_jobs.errors.{error_type}"
    return "lambda_jobs.errors.LambdaJobsError"


def _error_line(error_type: str, message: str | None) -> str:
    """The error as a traceback's last line, when no traceback was recorded."""
    return f"{error_type}: {message}" if message and message != "-" else error_type


def _pending_run_after(run_after: datetime | None) -> datetime | None:
    """``run_after`` if it is still ahead; a time already past means "now" in Django's model."""
    if run_after is None or run_after <= datetime.now(UTC):
        return None
    return run_after


def bind_arguments(task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Raise :class:`InvalidTaskArguments` unless the arguments fit ``task.func``'s signature.

    As for a lambda-jobs task (:mod:`lambda_jobs.signature`): a ``takes_context`` task is
    bound without its ``context``; ``@task(check_arguments=False)`` skips this.
    """
    from lambda_jobs.signature import check_signature

    try:
        check_signature(task.module_path, task.func, task.takes_context, args, kwargs)
    except InvalidJobError as exc:
        raise InvalidTaskArguments(f"Task {exc}") from None


def json_arguments(
    task: Task[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """``args``/``kwargs`` in Django's JSON form; a value that is not JSON raises
    :class:`InvalidTaskArguments` (an ``InvalidTask`` and a ``TypeError``).

    The message names the argument (position or keyword), never its value: arguments are not
    logged.
    """
    json_args = []
    for index, value in enumerate(args):
        json_args.append(_json_value(task, value, f"positional argument {index}"))
    json_kwargs = {}
    for name, value in kwargs.items():
        json_kwargs[name] = _json_value(task, value, f"keyword argument {name!r}")
    return json_args, json_kwargs


def _json_value(task: Task[..., Any], value: Any, where: str) -> Any:
    try:
        return normalize_json(value)
    except (TypeError, ValueError) as exc:
        raise InvalidTaskArguments(
            f"Task {task.module_path}: {where} is not JSON ({exc}); task arguments travel as JSON, "
            "so pass ids or plain values instead of objects."
        ) from exc
