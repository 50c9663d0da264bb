"""``LAMBDA_JOBS_CONFIG=inline``: run a job in this process, at enqueue, as the handler would.

:func:`enqueue` is this backend's (:data:`lambda_jobs.backends.INLINE`): it runs each job with
:func:`run_inline` instead of sending it. :func:`run_inline` uses the handler's own
:func:`~lambda_jobs.worker.runner.run_attempt`, so options, overrides, ``takes_context`` and the
time limit behave as in Lambda, with two differences made for tests and scripts: retries run at once
(no backoff wait) and ``run_after`` is not waited for. The arguments go through a JSON round trip
first, so the task sees exactly what it would receive from a message (tuples become lists).

What callers may rely on: the task's exception never escapes (``asyncio.CancelledError`` and other
``BaseException`` included), except ``KeyboardInterrupt``: as in Django's ``ImmediateBackend``, an
interrupt in this process stops the caller too (in the Lambda handler it is the job's failure like
any other exception). ``async def`` tasks are awaited to completion. The returned
:class:`~lambda_jobs.job.Job` says ``SUCCEEDED`` (``return_value`` set) or ``FAILED`` (``error`` is
``"ErrorType: message"`` of the last attempt), and ``attempts`` how many attempts ran. The
``timeout`` is enforced when the caller is the main thread (see
:mod:`lambda_jobs.worker.timelimit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_jobs import envelope as envelope_format
from lambda_jobs.job import Job, JobStatus
from lambda_jobs.worker.runner import AttemptOutcome, JobOptions, run_attempt

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.envelope import Envelope
    from lambda_jobs.job import PreparedJob
    from lambda_jobs.tasks import Task


def enqueue(prepared: list[PreparedJob], config: ClientConfig, *, single: bool) -> list[Job]:
    """The inline backend's enqueue (:data:`lambda_jobs.backends.INLINE`): every job checked as a
    real backend checks it, then each run here, in order."""
    from lambda_jobs.enqueue.client import checked_envelopes, now_ms

    envelopes = checked_envelopes(prepared, config, now_ms(), single=single)
    return [
        run_inline(job.task, envelope) for job, envelope in zip(prepared, envelopes, strict=True)
    ]


def run_inline(task: Task[..., Any], envelope: Envelope) -> Job:
    """Run ``envelope`` with ``task`` until it succeeds or its attempts are used up."""
    envelope = envelope_format.from_json(envelope.to_json())
    options = JobOptions(task, envelope)
    max_attempts = options.max_attempts
    attempt = envelope.attempt
    runs = 0
    while True:
        outcome: AttemptOutcome = run_attempt(
            task,
            envelope,
            attempt=attempt,
            max_attempts=max_attempts,
            time_limit=options.timeout,
            limit_message=f"task {task.name} ran past its timeout of {options.timeout:g} s"
            if options.timeout is not None
            else "",
        )
        runs += 1
        if isinstance(outcome.error, KeyboardInterrupt):  # Ctrl-C stops the caller (see above)
            raise outcome.error
        if outcome.ok or attempt >= max_attempts:
            break
        attempt += 1
    return Job(
        id=envelope.id,
        task_name=envelope.task,
        queue_name=envelope.queue,
        priority=envelope.priority,
        enqueued_at=envelope.enqueued_at,
        run_after=envelope.run_after,
        status=JobStatus.SUCCEEDED if outcome.ok else JobStatus.FAILED,
        attempts=runs,
        return_value=outcome.value,
        error=outcome.error_text(),
    )
