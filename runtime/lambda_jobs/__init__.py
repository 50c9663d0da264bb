"""lambda-jobs: background jobs for Python apps, run on AWS Lambda.

The public API is small and import-cheap (no boto3 until a call needs AWS)::

    from lambda_jobs import task

    @task(retries=3, timeout=60)
    def send_welcome_email(user_id: int) -> None: ...

    send_welcome_email.enqueue(42)                              # one job
    send_welcome_email.using(priority=50).enqueue(7)            # a configured copy
    enqueue_many(send_welcome_email.prepare(i) for i in ids)    # bulk, few requests
    chain(group(resize.prepare(i) for i in ids), summarize.prepare()).enqueue()  # a workflow
"""

from __future__ import annotations

from lambda_jobs.errors import (
    ConfigurationError,
    EnqueueError,
    IncompleteAttempts,
    InvalidJobError,
    InvalidTaskError,
    JobStateError,
    JobTimeoutError,
    LambdaJobsError,
    ResultNotStored,
    UnknownJobError,
)
from lambda_jobs.tasks import Task, task

# Why ``TYPE_CHECKING = False`` here and in every module the handler imports, instead of
# ``from typing import TYPE_CHECKING``: mypy treats any name ``TYPE_CHECKING`` as true (its
# reachability check), and ``typing`` is a module the handler would otherwise never import:
# awslambdaric's bootstrap loads json, re, enum and logging before the handler, but not ``typing``,
# so importing it would be paid on every cold start. The modules of the app's side (enqueue,
# config, the job store's client half, django) import ``typing`` as usual.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from lambda_jobs.context import JobContext
    from lambda_jobs.job import Job, JobStatus, PreparedJob
    from lambda_jobs.limits import Concurrency, Rate
    from lambda_jobs.workflows.canvas import chain, group
    from lambda_jobs.workflows.handle import Workflow, get_workflow

#: Public names loaded on first use (PEP 562), each from its module: job receipts are only needed
#: where jobs are enqueued, a :class:`JobContext` only where a ``takes_context`` task runs, and
#: the handler's cold start imports this package (every task module does) on the way to neither.
_LAZY = {
    "Job": "lambda_jobs.job",
    "JobStatus": "lambda_jobs.job",
    "PreparedJob": "lambda_jobs.job",
    "JobContext": "lambda_jobs.context",
    "chain": "lambda_jobs.workflows.canvas",
    "group": "lambda_jobs.workflows.canvas",
    "Workflow": "lambda_jobs.workflows.handle",
    "get_workflow": "lambda_jobs.workflows.handle",
    "Concurrency": "lambda_jobs.limits",
    "Rate": "lambda_jobs.limits",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lambda_jobs' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def enqueue_many(jobs: Iterable[PreparedJob]) -> list[Job]:
    """Send many prepared jobs in few requests (SQS batches of 10, sent in parallel).

    Every job is validated before anything is sent. If AWS rejects some entries after retries, an
    :class:`EnqueueError` names exactly the ids that failed (``job_ids``) and those sent
    (``sent_ids``). Returns the receipts in input order.
    """
    from lambda_jobs import config as config_module
    from lambda_jobs.backends import enqueue

    prepared = list(jobs)
    return enqueue(prepared, config_module.load()) if prepared else []


def get_job(job_id: str) -> Job:
    """The job ``job_id`` from the backend's job store (``LAMBDA_JOBS_CONFIG``).

    Its ``status`` is one of :class:`JobStatus`; a just-enqueued job is ``enqueued``. Raises
    :class:`UnknownJobError` for an id the store does not have and :class:`ConfigurationError` when
    the backend has no job store.
    """
    from lambda_jobs.jobstore.records import get_job as _get_job

    return _get_job(job_id)


def cancel_job(job_id: str) -> Job:
    """Cancel a job that has not started; the worker then acknowledges it without running it.

    A running or finished job raises :class:`JobStateError` saying which; the job store is needed.
    """
    from lambda_jobs.jobstore.records import cancel_job as _cancel_job

    return _cancel_job(job_id)


__all__ = [
    "Concurrency",
    "ConfigurationError",
    "EnqueueError",
    "IncompleteAttempts",
    "InvalidJobError",
    "InvalidTaskError",
    "Job",
    "JobContext",
    "JobStateError",
    "JobStatus",
    "JobTimeoutError",
    "LambdaJobsError",
    "PreparedJob",
    "Rate",
    "ResultNotStored",
    "Task",
    "UnknownJobError",
    "Workflow",
    "cancel_job",
    "chain",
    "enqueue_many",
    "get_job",
    "get_workflow",
    "group",
    "task",
]
