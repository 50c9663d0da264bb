"""A job before it is sent (:class:`PreparedJob`) and the receipt after (:class:`Job`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lambda_jobs.jobstore import schema

if TYPE_CHECKING:
    from collections.abc import Callable

    from lambda_jobs.config import ClientConfig
    from lambda_jobs.tasks import Task


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """One call of one task, with its id already chosen; made by ``Task.prepare``.

    The id is fixed here so that an :class:`~lambda_jobs.errors.EnqueueError` can name the jobs that
    were not sent, and so that sending the same prepared job twice is recognisable downstream.
    """

    task: Task[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    overrides: dict[str, Any] = field(default_factory=dict)
    """Per-job task options for the envelope's ``overrides`` (see ``envelope.OVERRIDE_TYPES``);
    the Django backend sends a task's resolved retries, backoff and timeout this way."""
    awaits_result: str | None = None
    """Set when the arguments fit the signature only with one more first positional argument: a
    workflow step that receives its predecessor's result (:mod:`lambda_jobs.workflows`). Holds
    the signature error, which enqueueing the job on its own raises."""
    workflow: dict[str, Any] | None = None
    """The envelope's ``workflow`` field of a workflow step (:mod:`lambda_jobs.workflows`)."""


def prepare(task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> PreparedJob:
    """The job of ``task(*args, **kwargs)``; arguments that do not fit its function's signature
    raise :class:`~lambda_jobs.errors.InvalidJobError` (unless the task has ``check_arguments``
    off)."""
    from lambda_jobs.errors import InvalidJobError

    args, kwargs = tuple(args), dict(kwargs)
    awaits_result: str | None = None
    if task.check_arguments:
        from lambda_jobs.signature import check_signature

        try:
            check_signature(task.name, task.func, task.takes_context, args, kwargs)
        except InvalidJobError as exc:
            try:  # a workflow step that takes its predecessor's result first?
                check_signature(task.name, task.func, task.takes_context, (None, *args), kwargs)
            except InvalidJobError:
                raise exc from None
            awaits_result = str(exc)
    from lambda_jobs import registry

    registered = registry.get(task.name)
    replaced = registered is not None and task.limits is not registered.limits
    if not task.limits and not replaced:
        return PreparedJob(task=task, args=args, kwargs=kwargs, awaits_result=awaits_result)
    if awaits_result is not None:
        if replaced:
            raise InvalidJobError(
                f"{task.name}: using(limits=...) on a workflow step that takes its predecessor's "
                "result is not supported; give the task its limits with @task(limits=[...])"
            )
        # Its key functions need the result, known only when the step starts: the worker
        # resolves the task's own limits then.
        return PreparedJob(task=task, args=args, kwargs=kwargs, awaits_result=awaits_result)
    from lambda_jobs.limits import resolve

    held = resolve(task, task.limits, args, kwargs)  # a key that fails, fails here
    # The task's own limits are resolved again by the worker (so a deploy that changes them
    # applies to jobs already queued); a per-job ``using(limits=...)`` travels in the envelope.
    overrides = {"limits": [h.to_wire() for h in held]} if replaced else {}
    return PreparedJob(task=task, args=args, kwargs=kwargs, overrides=overrides)


class JobStatus(StrEnum):
    """Where a job stands. Without the job store only ``enqueued`` (and, ``inline``, the outcome)
    is known; with it, :meth:`Job.refresh` and :func:`lambda_jobs.get_job` tell the rest."""

    ENQUEUED = schema.ENQUEUED
    """Accepted by the backend (queue, Lambda or scheduler), not started yet."""
    RUNNING = schema.RUNNING
    """An attempt is running (job store only)."""
    RETRYING = schema.RETRYING
    """An attempt failed; the next one is waiting for its backoff (job store only)."""
    SUCCEEDED = schema.SUCCEEDED
    """The job ran and returned (``inline``, or with the job store)."""
    FAILED = schema.FAILED
    """The last attempt failed, or the job could not run: it is in the dead-letter queue."""
    CANCELLED = schema.CANCELLED
    """Cancelled before it started (job store only); the worker acknowledges it unrun."""


@dataclass(slots=True, kw_only=True)
class Job:
    """The receipt of an enqueued job. ``id`` is the job id every log line and DLQ entry carries.

    With the job store, :meth:`refresh` re-reads the job; ``existing`` is True when ``enqueue``
    found a pending or running job with the same ``unique_key`` and returned it instead of sending
    a new one (this receipt then describes that job).
    """

    id: str
    task_name: str
    queue_name: str
    priority: int
    enqueued_at: datetime
    run_after: datetime | None = None
    status: JobStatus = JobStatus.ENQUEUED
    attempts: int = 0
    """``inline`` only: how many attempts ran."""
    return_value: Any = None
    """``inline`` only: what the task returned."""
    error: str | None = None
    """``"ErrorType: message"`` of the last failure (``inline``, or with the job store)."""
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    """The last error's traceback, cut to its last 8,000 characters (job store only)."""
    started_at: datetime | None = None
    """When the last attempt started (job store only)."""
    finished_at: datetime | None = None
    unique_key: str | None = None
    existing: bool = False
    worker_ids: list[str] = field(default_factory=list)
    """The Lambda request id of each attempt (job store only)."""
    config: Any = field(default=None, repr=False, compare=False)
    """The client configuration the job was enqueued with (what :meth:`refresh` reads from)."""

    def refresh(self) -> Job:
        """Re-read this job from the job store, in place; returns it.

        Raises :class:`~lambda_jobs.errors.ConfigurationError` without a job store and
        :class:`~lambda_jobs.errors.UnknownJobError` if its item is gone (expired).
        """
        fresh = _store_reader(self.id, self.config)
        for name in Job.__dataclass_fields__:
            if name not in ("existing", "config"):
                setattr(self, name, getattr(fresh, name))
        return self


def _no_store_read(job_id: str, config: ClientConfig | None) -> Job:
    from lambda_jobs.errors import ConfigurationError

    raise ConfigurationError(
        f"job {job_id} was not enqueued through a job store, so it cannot be re-read: deploy the "
        "backend with job_store=JobStore(...) to look up, cancel or deduplicate jobs"
    )


#: What :meth:`Job.refresh` reads through: :func:`lambda_jobs.jobstore.records.get_job`, which
#: that module sets here when it loads (every receipt of a backend with a job store is made after
#: it loaded). Set, not imported: that module makes the receipts, so it imports this one.
_store_reader: Callable[[str, ClientConfig | None], Job] = _no_store_read


def read_through(reader: Callable[[str, ClientConfig | None], Job]) -> None:
    """Make :meth:`Job.refresh` read through ``reader`` (called by the job store's client half)."""
    global _store_reader
    _store_reader = reader
