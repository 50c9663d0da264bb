"""Lamb: run one job that arrived as an async-invoke payload or a scheduler delivery.

The payload is an envelope (``{"lambda_jobs": 1, ...}``) or a scheduler delivery
(``{"source": "lambda_jobs.scheduler", "job": <envelope>, ...}``, see
:func:`lambda_jobs.schedules.lamb_delivery`). The attempt is the envelope's ``attempt``.

- **success**: returns ``{"job_id": ..., "outcome": "succeeded"}``.
- **failure with attempts left**: a one-time EventBridge Scheduler schedule
  (``LAMBDA_JOBS_SCHEDULER_GROUP``, role ``LAMBDA_JOBS_SCHEDULER_ROLE_ARN``) re-delivers the
  envelope with ``attempt + 1`` to this function (``context.invoked_function_arn``) after the
  backoff; returns normally.
- **exhausted / poison** (undecodable, unknown or not-allowed task, attempt past the last):
  sent to ``LAMBDA_JOBS_DLQ_URL`` with the ``lambda_jobs.*`` attributes, body = the envelope as it
  arrived (JSON); returns normally.

Returning normally in all those cases leaves Lambda's own async retries (and the function's
on-failure destination) for crashes only. If creating the retry schedule or the DLQ send fails,
the handler raises, so Lambda's async retry, then the on-failure destination, still hold the job:
nothing is lost, at the price of the attempt running again.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from lambda_jobs import envelope as envelope_format
from lambda_jobs.deadline import FunctionClock
from lambda_jobs.errors import ConfigurationError, LambdaJobsError, TaskNotAllowedError
from lambda_jobs.joblog import log_job
from lambda_jobs.runner import JobOptions, error_type_name, run_attempt

if TYPE_CHECKING:
    from lambda_jobs.coldstart import Runtime
    from lambda_jobs.envelope import Envelope

SCHEDULER_GROUP_ENV = "LAMBDA_JOBS_SCHEDULER_GROUP"
SCHEDULER_ROLE_ENV = "LAMBDA_JOBS_SCHEDULER_ROLE_ARN"


def is_async_payload(event: Any) -> bool:
    """True for an async-invoke payload: a JSON object carrying the envelope version key."""
    return isinstance(event, dict) and envelope_format.VERSION_KEY in event


def handle_job(job: Any, context: Any, runtime: Runtime) -> dict[str, Any]:
    """Run the envelope ``job`` (already taken out of a scheduler delivery, if it was one)."""
    source = str(getattr(context, "invoked_function_arn", "") or "")
    arrived = _Arrival(job, source)
    try:
        envelope = envelope_format.from_dict(job)
    except LambdaJobsError as exc:
        return _dead_letter(arrived, reason="undecodable", cause=exc)
    arrived.envelope = envelope
    try:
        task = runtime.task(envelope.task)
    except TaskNotAllowedError as exc:
        from lambda_jobs.coldstart import UnknownTaskError

        reason = "unknown_task" if isinstance(exc, UnknownTaskError) else "not_allowed"
        return _dead_letter(arrived, reason=reason, cause=exc)
    try:
        options = JobOptions(task, envelope)
    except LambdaJobsError as exc:
        return _dead_letter(arrived, reason="undecodable", cause=exc)
    arrived.options = options
    attempt = envelope.attempt
    if attempt > options.max_attempts:
        past = LambdaJobsError(
            f"attempt {attempt} is past max_attempts {options.max_attempts}: nothing left to run"
        )
        return _dead_letter(arrived, reason="exhausted", cause=past)
    clock = FunctionClock(context, runtime.deadline_margin_ms)
    limit, message = clock.time_limit(options.timeout, task.name)
    outcome = run_attempt(
        task,
        envelope,
        attempt=attempt,
        max_attempts=options.max_attempts,
        time_limit=limit,
        limit_message=message,
    )
    if outcome.ok:
        log_job(outcome="succeeded", duration_ms=outcome.duration_ms, **arrived.fields())
        return {"job_id": envelope.id, "outcome": "succeeded"}
    assert outcome.error is not None
    if attempt < options.max_attempts:
        delay = _schedule_retry(arrived, outcome.duration_ms, str(outcome.error_type))
        return {"job_id": envelope.id, "outcome": "retrying", "retry_in_s": delay}
    return _dead_letter(
        arrived,
        reason="exhausted",
        cause=outcome.error,
        traceback_of=outcome.error,
        duration_ms=outcome.duration_ms,
    )


class _Arrival:
    """One Lamb job as it arrived, and how far it was decoded."""

    __slots__ = ("envelope", "job", "options", "source")

    def __init__(self, job: Any, source: str) -> None:
        self.job = job
        self.source = source
        self.envelope: Envelope | None = None
        self.options: JobOptions | None = None

    def field(self, name: str) -> str | None:
        """A string field of the raw job (identity of a job that could not be decoded)."""
        value = self.job.get(name) if isinstance(self.job, dict) else None
        return value[:256] if isinstance(value, str) and value else None

    def fields(self) -> dict[str, Any]:
        """The identity fields of this job's log line."""
        env, options = self.envelope, self.options
        return {
            "job_id": env.id if env else self.field("id"),
            "task": env.task if env else self.field("task"),
            "queue": env.queue if env else None,
            "attempt": env.attempt if env else None,
            "max_attempts": options.max_attempts if options else None,
            "due_at": (env.run_after or env.enqueued_at) if env else None,
        }


def _schedule_retry(arrived: _Arrival, duration_ms: float, error_type: str) -> float:
    """Create the schedule that re-delivers ``envelope`` at ``attempt + 1``; raises if it fails."""
    import math
    from datetime import UTC, datetime, timedelta

    from lambda_jobs import aws, schedules
    from lambda_jobs.backoff import retry_delay

    envelope, options = arrived.envelope, arrived.options
    assert envelope is not None and options is not None
    function_arn = arrived.source
    fields = arrived.fields()
    policy = options.retry
    delay = math.ceil(
        retry_delay(
            envelope.attempt,
            base=policy.retry_backoff,
            maximum=policy.retry_backoff_max,
            jitter=policy.retry_jitter,
        )
    )
    try:
        group = os.environ.get(SCHEDULER_GROUP_ENV, "").strip()
        role_arn = os.environ.get(SCHEDULER_ROLE_ENV, "").strip()
        if not group or not role_arn:
            raise ConfigurationError(
                f"{SCHEDULER_GROUP_ENV} and {SCHEDULER_ROLE_ENV} must be set to retry Lamb jobs "
                "with a backoff (the LambJobBackend construct sets them)"
            )
        if not function_arn:
            raise ConfigurationError("the Lambda context has no invoked_function_arn to retry to")
        schedules.create(
            aws.client("scheduler", None),
            envelope=envelope.with_attempt(envelope.attempt + 1),
            when=datetime.now(UTC) + timedelta(seconds=delay),
            group=group,
            role_arn=role_arn,
            target_arn=function_arn,
            lamb=True,
        )
    except Exception as exc:
        log_job(
            outcome="retrying",
            duration_ms=duration_ms,
            error_type=error_type,
            retry_in_s=delay,
            aws_error=f"CreateSchedule failed: {type(exc).__name__}: {exc}",
            **fields,
        )
        raise
    log_job(
        outcome="retrying",
        duration_ms=duration_ms,
        error_type=error_type,
        retry_in_s=delay,
        **fields,
    )
    return delay


def _dead_letter(
    arrived: _Arrival,
    *,
    reason: str,
    cause: BaseException,
    traceback_of: BaseException | None = None,
    duration_ms: float = 0.0,
) -> dict[str, Any]:
    """Send the job to the DLQ and return the handler's answer; raises if the send failed.

    ``cause`` gives the error type and message; ``traceback_of`` (the task's exception) the
    traceback attribute.
    """
    from lambda_jobs import deadletter

    error_type = error_type_name(cause)
    fields = arrived.fields()
    job_id, task_name, attempt = fields["job_id"], fields["task"], fields["attempt"]
    try:
        attributes = deadletter.attributes(
            reason=reason,
            error_type=error_type,
            error_message=str(cause),
            error=traceback_of,
            attempts=attempt,
            source=arrived.source,
            task=task_name,
            job_id=job_id,
        )
        deadletter.send(
            json.dumps(arrived.job, separators=(",", ":")),
            attributes,
            deduplication_id=f"{job_id or 'unknown'}-a{attempt or 0}-{reason}",
            group_id=task_name,
        )
    except Exception as exc:
        log_job(
            outcome="dead_letter_failed",
            duration_ms=duration_ms,
            error_type=error_type,
            reason=reason,
            aws_error=f"{type(exc).__name__}: {exc}",
            **fields,
        )
        raise
    log_job(
        outcome="dead_lettered",
        duration_ms=duration_ms,
        error_type=error_type,
        reason=reason,
        **fields,
    )
    return {"job_id": job_id, "outcome": "dead_lettered", "reason": reason}
