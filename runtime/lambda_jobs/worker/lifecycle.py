"""One job's way through the function, written once for both backends.

:func:`live` takes an :class:`~lambda_jobs.worker.triage.Arrival` through claim (job store on) →
refuse (a job that cannot run is dead-lettered unrun) → run → settle (the store's status) and log →
retry or dead-letter. A job under limits (:mod:`lambda_jobs.worker.limiting`) takes them before
the claim, and waits (``limited``) when one refuses. A backend supplies only what differs, as a
:class:`Policy`:

- what a claim that says "do not run" means (Goat hides a busy job's copy until the lease ends;
  Lamb logs the duplicate and returns);
- how a retry waits (Goat hides the message for the backoff and lists it in
  ``batchItemFailures``; Lamb creates a one-time schedule that re-delivers the next attempt);
- how a dead-letter entry is keyed and what a failed send does (Goat lists the record, Lamb raises
  so Lambda's own retries keep the job);
- what the handler answers for the job (Goat: acknowledge or not; Lamb: the job's outcome);
- how a workflow step whose bookkeeping did not finish comes again (Goat lists it, Lamb raises:
  :mod:`lambda_jobs.worker.workflow_step`).
"""

from __future__ import annotations

from lambda_jobs.worker.triage import dead_letter
from lambda_jobs.worker.words import EXHAUSTED, FINISHED, RETRYING, RUN, SUCCEEDED

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    from lambda_jobs.worker.deadline import FunctionClock
    from lambda_jobs.worker.triage import Arrival
    from lambda_jobs.worker.words import ClaimAction, Reason

    J_contra = TypeVar("J_contra", bound=Arrival, contravariant=True)
    R_co = TypeVar("R_co", covariant=True)

    class Policy(Protocol[J_contra, R_co]):
        """What a backend does where the two differ; each returns the handler's answer."""

        def skipped(self, job: J_contra, action: ClaimAction) -> R_co:
            """The claim said ``finished``, ``cancelled``, ``busy`` or ``waiting``: not run."""

        def succeeded(self, job: J_contra) -> R_co:
            """The attempt succeeded (settled and logged already)."""

        def retry(self, job: J_contra, duration_ms: float, error_type: str) -> R_co:
            """Make the next attempt come after the backoff, and log ``retrying``."""

        def dead_letter_entry(self, job: J_contra, reason: Reason) -> tuple[str, str, str | None]:
            """The DLQ entry's ``(body, deduplication id, message group id)``."""

        def dead_lettered(self, job: J_contra, reason: Reason, failure: Exception | None) -> R_co:
            """After the DLQ send: ``failure`` is None when the DLQ holds the job."""

        def limited(self, job: J_contra, wait_s: int, name: str) -> R_co:
            """A limit (``name``) refused the start: make the job come back after ``wait_s``
            without using an attempt, and log ``limited`` (:mod:`lambda_jobs.worker.limiting`)."""

        def unfinished(self, job: J_contra) -> R_co:
            """A workflow step ended (logged and recorded already) but its bookkeeping did not
            finish (``job.store_error`` says why): have the same job delivered again, where the
            claim says ``finished`` and :func:`~lambda_jobs.worker.workflow_step.resumed`
            finishes it without running the task."""


def live[J: Arrival, R](
    job: J,
    clock: FunctionClock,
    worker_id: str,
    policy: Policy[J, R],
    delivered_attempt: int | None = None,
) -> R:
    """Claim, run and settle ``job``; returns what ``policy`` answers for it.

    ``delivered_attempt`` (Lamb) is the attempt the delivery carries (see
    :meth:`~lambda_jobs.worker.triage.Arrival.claim`).
    """
    limit, message = job.time_limit(clock)
    task, envelope = job.task, job.envelope
    if (  # flow control (its module loads only for jobs under limits), before the claim
        task is not None
        and envelope is not None
        and job.reason in (None, EXHAUSTED)
        and (task.limits or "limits" in envelope.overrides)
    ):
        from lambda_jobs.worker.limiting import enter

        entered = enter(job, limit, worker_id)
        if entered.wait_s is not None:
            return policy.limited(job, entered.wait_s, entered.name)
        try:
            return _claimed(job, clock, worker_id, policy, delivered_attempt, limit, message)
        finally:
            entered.leave()
    return _claimed(job, clock, worker_id, policy, delivered_attempt, limit, message)


def _claimed[J: Arrival, R](  # noqa: PLR0917 - live's arguments, passed on
    job: J,
    clock: FunctionClock,
    worker_id: str,
    policy: Policy[J, R],
    delivered_attempt: int | None,
    limit: float | None,
    message: str,
) -> R:
    """:func:`live` from the claim on."""
    action = job.claim(limit, worker_id, delivered_attempt)
    if action != RUN:
        if action == FINISHED and job.envelope is not None and job.envelope.workflow is not None:
            from lambda_jobs.worker import workflow_step

            if not workflow_step.resumed(job):
                policy.skipped(job, action)  # logged as the duplicate it is, with store_error
                return policy.unfinished(job)
        return policy.skipped(job, action)
    if job.reason is not None:
        error_type, error_message = job.refusal()
        return send_to_dlq(job, policy, job.reason, error_type, error_message, None, 0.0)
    options = job.options
    assert options is not None
    outcome = job.run(clock, limit, message)
    if outcome.ok:
        job.settle(SUCCEEDED, value=outcome.value)
        done = True
        if job.envelope is not None and job.envelope.workflow is not None:
            from lambda_jobs.worker import workflow_step

            done = workflow_step.succeeded(job, outcome.value)
        job.log(SUCCEEDED, outcome.duration_ms)
        return policy.succeeded(job) if done else policy.unfinished(job)
    assert outcome.error is not None
    error_type = str(outcome.error_type)
    if job.attempt < options.max_attempts:
        job.settle(
            RETRYING,
            error_type=error_type,
            error_message=outcome.error_message,
            error=outcome.error,
        )
        return policy.retry(job, outcome.duration_ms, error_type)
    return send_to_dlq(
        job,
        policy,
        EXHAUSTED,
        error_type,
        outcome.error_message,
        outcome.error,
        outcome.duration_ms,
    )


def send_to_dlq[J: Arrival, R](  # noqa: PLR0917 - the entry's fields, in the order the DLQ shows them
    job: J,
    policy: Policy[J, R],
    reason: Reason,
    error_type: str,
    error_message: str,
    error: BaseException | None,
    duration_ms: float,
) -> R:
    """Dead-letter ``job`` (:func:`~lambda_jobs.worker.triage.dead_letter`) keyed as ``policy``
    says; returns what ``policy`` answers for it."""
    unfinished = False
    if job.envelope is not None and job.envelope.workflow is not None:
        from lambda_jobs.worker import workflow_step

        unfinished = not workflow_step.failed(job, error_type, error_message)
    body, deduplication_id, group_id = policy.dead_letter_entry(job, reason)
    failure = dead_letter(
        job,
        body=body,
        reason=reason,
        error_type=error_type,
        error_message=error_message,
        error=error,
        duration_ms=duration_ms,
        deduplication_id=deduplication_id,
        group_id=group_id,
    )
    if unfinished and failure is None:  # in the DLQ; the workflow does not know it yet
        return policy.unfinished(job)
    return policy.dead_lettered(job, reason, failure)
