"""A job before it is sent (:class:`PreparedJob`) and the receipt after (:class:`Job`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def prepare(task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> PreparedJob:
    return PreparedJob(task=task, args=tuple(args), kwargs=dict(kwargs))


class JobStatus(StrEnum):
    """Where a job stands, as far as the enqueuing process can know."""

    ENQUEUED = "enqueued"
    """Accepted by the backend (queue, Lambda or scheduler); the caller learns nothing more."""
    SUCCEEDED = "succeeded"
    """``inline`` only: the job ran here and returned."""
    FAILED = "failed"
    """``inline`` only: the job ran here and failed on its last attempt."""


@dataclass(slots=True, kw_only=True)
class Job:
    """The receipt of an enqueued job. ``id`` is the job id every log line and DLQ entry carries."""

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
    """``inline`` only: ``"ErrorType: message"`` of the last failure."""
