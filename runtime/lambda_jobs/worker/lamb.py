"""Lamb: run one job that arrived as an async-invoke payload or a scheduler delivery.

The payload is an envelope (``{"lambda_jobs": 1, ...}``), a scheduler delivery
(``{"source": "lambda_jobs.scheduler", "job": <envelope>, ...}``, see
:func:`lambda_jobs.scheduling.one_time.lamb_delivery`) or a recurring schedule's delivery
(``{"source": "lambda_jobs.recurring", ...}``, see :mod:`lambda_jobs.scheduling.recurring`). The
attempt is the envelope's ``attempt``.

- **success**: returns ``{"job_id": ..., "outcome": "succeeded"}``.
- **failure with attempts left**: a one-time EventBridge Scheduler schedule
  (``LAMBDA_JOBS_SCHEDULER_GROUP``, role ``LAMBDA_JOBS_SCHEDULER_ROLE_ARN``) re-delivers the
  envelope with ``attempt + 1`` to this function (``context.invoked_function_arn``) after the
  backoff, with the backend's dead-letter queue (``LAMBDA_JOBS_DLQ_URL``) as its
  ``DeadLetterConfig``; returns normally.
- **exhausted / poison** (undecodable, unknown or not-allowed task, attempt past the last):
  sent to ``LAMBDA_JOBS_DLQ_URL`` with the ``lambda_jobs.*`` attributes, body = the envelope as it
  arrived (JSON); returns normally.

**Job store** (``LAMBDA_JOBS_JOB_TABLE``; :mod:`lambda_jobs.jobstore.claims`): the job is claimed
before it runs and the attempt is the store's count. A job that already finished, or that runs
under a live lease in another invocation (Lambda's async delivery can hand one event over twice),
is acknowledged without running and logged ``skipped_duplicate``: the running invocation owns the
job, and if it crashes Lambda's own async retries of *that* event bring it back (with its request
id, which takes the lease over at once). A job that waits for its scheduled retry (``retrying``)
is claimed only by that retry: the retry's schedule carries ``attempt`` = the store's attempt + 1,
so a delivery carrying the store's attempt or less is a copy of an earlier delivery, acknowledged
without running and without using an attempt (``skipped_duplicate`` with ``retry_pending``); the
one exception is Lambda's own retry of the invocation that recorded ``retrying`` and then failed
to create the schedule (same request id). So duplicates never start a second retry chain
(:mod:`lambda_jobs.jobstore.claims`, "Which delivery is the retry"). A cancelled job is
acknowledged and logged ``cancelled``.

Returning normally in all those cases leaves Lambda's own async retries (and the function's
on-failure destination) for crashes only. If creating the retry schedule or the DLQ send fails,
the handler raises, so Lambda's async retry, then the on-failure destination, still hold the job:
nothing is lost, at the price of the attempt running again.

A workflow step whose bookkeeping failed after the step ended (a DynamoDB or enqueue error)
raises too (``BookkeepingUnfinished``): Lambda's async retry delivers the event again, the claim
says ``finished`` and the bookkeeping is finished without running the task
(:mod:`lambda_jobs.worker.workflow_step`).
"""

from __future__ import annotations

import os

from lambda_jobs import envelope as envelope_format
from lambda_jobs.errors import ConfigurationError
from lambda_jobs.worker.deadline import FunctionClock
from lambda_jobs.worker.lifecycle import live
from lambda_jobs.worker.triage import Arrival, decode_payload
from lambda_jobs.worker.words import (
    BUSY,
    CANCELLED,
    DEAD_LETTERED,
    RETRYING,
    SKIPPED_DUPLICATE,
    SUCCEEDED,
    WAITING,
)

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.worker.coldstart import Runtime
    from lambda_jobs.worker.words import ClaimAction, Outcome, Reason

SCHEDULER_GROUP_ENV = "LAMBDA_JOBS_SCHEDULER_GROUP"
SCHEDULER_ROLE_ENV = "LAMBDA_JOBS_SCHEDULER_ROLE_ARN"


def is_async_payload(event: Any) -> bool:
    """True for an async-invoke payload: a JSON object carrying the envelope version key."""
    return isinstance(event, dict) and envelope_format.VERSION_KEY in event


def handle_job(job: Any, context: Any, runtime: Runtime) -> dict[str, Any]:
    """Run the envelope ``job`` (already taken out of a scheduler delivery, if it was one)."""
    arrived = Arrival(
        job,
        decode_payload,
        runtime,
        source=str(getattr(context, "invoked_function_arn", "") or ""),
    )
    clock = FunctionClock(context, runtime.deadline_margin_ms)
    delivered = arrived.envelope.attempt if arrived.envelope is not None else None
    worker_id = str(getattr(context, "aws_request_id", "") or "")
    return live(arrived, clock, worker_id, _LAMB, delivered)


class _Lamb:
    """Lamb's part of the one lifecycle (:class:`lambda_jobs.worker.lifecycle.Policy`): the
    answer is the handler's result for the job; a failed DLQ send or retry schedule raises."""

    __slots__ = ()

    def skipped(self, job: Arrival, action: ClaimAction) -> dict[str, Any]:
        outcome: Outcome = CANCELLED if action == CANCELLED else SKIPPED_DUPLICATE
        running = job.claimed.lease_remaining if job.claimed and action == BUSY else None
        # ``waiting``: the job waits for its scheduled retry, which this delivery is not.
        retry_pending = True if action == WAITING else None
        job.log(outcome, 0.0, lease_remaining_s=running, retry_pending=retry_pending)
        return {"job_id": job.identity()[1], "outcome": outcome}

    def succeeded(self, job: Arrival) -> dict[str, Any]:
        assert job.envelope is not None
        return {"job_id": job.envelope.id, "outcome": SUCCEEDED}

    def retry(self, job: Arrival, duration_ms: float, error_type: str) -> dict[str, Any]:
        assert job.envelope is not None
        delay = _schedule_retry(job, duration_ms, error_type)
        return {"job_id": job.envelope.id, "outcome": RETRYING, "retry_in_s": delay}

    def dead_letter_entry(self, job: Arrival, reason: Reason) -> tuple[str, str, str | None]:
        import json  # the dead-letter path, not the handler's cold start

        task_name, job_id = job.identity()
        # UTF-8 as sent (not \u-escaped): the entry is no larger than the payload, which the
        # client keeps within what an SQS dead-letter entry holds
        # (``lambda_jobs.contract.DEFAULT_MAX_PAYLOAD``).
        body = json.dumps(job.raw, separators=(",", ":"), ensure_ascii=False)
        return body, f"{job_id or 'unknown'}-a{job.known_attempt or 0}-{reason}", task_name

    def dead_lettered(
        self, job: Arrival, reason: Reason, failure: Exception | None
    ) -> dict[str, Any]:
        if failure is not None:
            raise failure
        return {"job_id": job.identity()[1], "outcome": DEAD_LETTERED, "reason": reason}

    def limited(self, job: Arrival, wait_s: int, name: str) -> dict[str, Any]:
        from lambda_jobs.worker.limiting import lamb_wait

        return lamb_wait(job, wait_s, name)

    def unfinished(self, job: Arrival) -> dict[str, Any]:
        from lambda_jobs.worker.workflow_step import BookkeepingUnfinished

        raise BookkeepingUnfinished(job.identity()[1], job.store_error)


_LAMB = _Lamb()


def _schedule_retry(arrived: Arrival, duration_ms: float, error_type: str) -> int:
    """Create the schedule that re-delivers ``envelope`` at ``attempt + 1``; raises if it fails."""
    from datetime import UTC, datetime, timedelta

    from lambda_jobs import aws
    from lambda_jobs.scheduling import one_time

    envelope, options = arrived.envelope, arrived.options
    assert envelope is not None and options is not None
    function_arn = arrived.source
    delay = options.retry.delay_after(arrived.attempt)
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
        from lambda_jobs.worker.deadletter import DLQ_URL_ENV

        dlq_url = os.environ.get(DLQ_URL_ENV, "").strip()
        dlq_arn = one_time.queue_arn_of_url(dlq_url, like_arn=function_arn) if dlq_url else None
        one_time.create(
            aws.client("scheduler", None),
            envelope=envelope.with_attempt(arrived.attempt + 1),
            when=datetime.now(UTC) + timedelta(seconds=delay),
            group=group,
            role_arn=role_arn,
            target_arn=function_arn,
            lamb=True,
            dead_letter_arn=dlq_arn,
        )
    except Exception as exc:
        arrived.log(
            RETRYING,
            duration_ms,
            error_type=error_type,
            retry_in_s=delay,
            aws_error=f"CreateSchedule failed: {type(exc).__name__}: {exc}",
        )
        raise
    arrived.log(RETRYING, duration_ms, error_type=error_type, retry_in_s=delay)
    return delay
