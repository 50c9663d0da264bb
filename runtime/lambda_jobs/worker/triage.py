"""What both worker backends do with a job before running it, and how they dead-letter it.

:class:`Arrival` is one job as it reached the function, decoded as far as it goes without any AWS
call: the envelope, the task (from the cold-start allow-list), the :class:`JobOptions` it runs
with and the attempt it is. When it cannot run, ``reason`` says why, in the dead-letter queue's
words (:data:`lambda_jobs.worker.words.REASONS`):

- ``undecodable``: not an envelope this runtime reads, for any reason (not JSON, nested deeper
  than the decoder follows, too large for memory, a field missing or of the wrong type, another
  version), or its overrides are out of range;
- ``unknown_task``: no task of that name is registered; ``not_allowed``: registered only after
  cold start (:meth:`lambda_jobs.worker.coldstart.Runtime.task`);
- ``exhausted``: the attempt is already past the last one (earlier deliveries never finished),
  dead-lettered with error type ``IncompleteAttempts``.

Goat decodes an SQS body (:func:`decode_body`) and counts the redeliveries SQS reports
(:mod:`lambda_jobs.worker.goat`); Lamb decodes the invoke payload (:func:`decode_payload`,
:mod:`lambda_jobs.worker.lamb`). Both decoders read an envelope or a recurring schedule's delivery
(:mod:`lambda_jobs.scheduling.recurring`), which becomes the envelope of that firing's job.
Both log with :meth:`Arrival.log` and dead-letter with :func:`dead_letter`, so one job reads the
same in the logs and the DLQ whichever backend ran it.

With the job store on (``runtime.store``), both claim the job with :meth:`Arrival.claim` before
running it and record its outcome with :meth:`Arrival.settle` (:mod:`lambda_jobs.jobstore.claims`):
the claim's attempt (the store's count) then replaces the one counted from deliveries, so a
duplicate delivery does not use one up. A store error never stops a job: it is added to the job's
log line as ``store_error`` and the job goes on as it would without the store.
"""

from __future__ import annotations

from lambda_jobs import envelope as envelope_format
from lambda_jobs.errors import LambdaJobsError, TaskNotAllowedError
from lambda_jobs.worker.joblog import log_job
from lambda_jobs.worker.runner import JobOptions, run_attempt
from lambda_jobs.worker.words import (
    DEAD_LETTER_FAILED,
    DEAD_LETTERED,
    EXHAUSTED,
    NOT_ALLOWED,
    RUN,
    UNAVAILABLE,
    UNDECODABLE,
    UNKNOWN_TASK,
)

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from lambda_jobs.envelope import Envelope
    from lambda_jobs.jobstore.claims import Claim, WorkerStore
    from lambda_jobs.tasks import Task
    from lambda_jobs.worker.coldstart import Runtime
    from lambda_jobs.worker.deadline import FunctionClock
    from lambda_jobs.worker.runner import AttemptOutcome
    from lambda_jobs.worker.words import ClaimAction, Outcome, Reason

#: The DLQ error type of a job whose earlier attempts never finished (a crash, a timeout).
INCOMPLETE_ATTEMPTS = "IncompleteAttempts"
#: Lease of an attempt with no time limit at all: Lambda's longest function timeout.
MAX_LEASE_SECONDS = 900.0


def decode_payload(data: Any) -> Envelope:
    """A decoded payload or body: an envelope, or a recurring delivery as its firing's envelope.

    An object with the envelope's version key is read as one at once:
    :mod:`lambda_jobs.scheduling.recurring` is only imported for anything else, so a function that
    never gets a firing never loads it.
    """
    if type(data) is dict and envelope_format.VERSION_KEY in data:
        return envelope_format.from_dict(data)
    from lambda_jobs.scheduling import recurring

    if recurring.is_delivery(data):
        return recurring.envelope_of(data)
    return envelope_format.from_dict(data)


def decode_body(text: str) -> Envelope:
    """An SQS message body (JSON text), read by :func:`decode_payload`."""
    return decode_payload(envelope_format.parse_json(text))


class Arrival:
    """One job as it reached the worker; see the module docstring for ``reason``.

    ``raw`` is what identifies a job that could not be decoded (the payload dict, or the SQS body
    text); ``source`` is the ARN it came from (queue or function); ``receive_count`` is SQS's
    ``ApproximateReceiveCount`` (None where deliveries are not counted: Lamb), each delivery after
    the first counting as an attempt that did not finish; ``message_id`` is SQS's id of the
    message (Goat; None on Lamb), which every log line of the job carries.

    Built once per job on the handler's hot path: the arguments are positional and every
    attribute is set once, here.
    """

    __slots__ = (
        "attempt",
        "claimed",
        "envelope",
        "error",
        "limits_granted",
        "message_id",
        "options",
        "raw",
        "reason",
        "receive_count",
        "source",
        "store",
        "store_error",
        "task",
    )

    def __init__(  # noqa: PLR0917 - positional from Goat: one call per record
        self,
        raw: Any,
        decode: Callable[[Any], Envelope],
        runtime: Runtime,
        source: str,
        receive_count: int | None = None,
        message_id: str | None = None,
    ) -> None:
        self.raw = raw
        self.source = source
        self.receive_count = receive_count
        redeliveries = receive_count - 1 if receive_count is not None else 0
        self.message_id = message_id
        self.envelope: Envelope | None = None
        self.task: Task[..., Any] | None = None
        self.options: JobOptions | None = None
        self.attempt = 1 + redeliveries
        self.reason: Reason | None = None
        self.error: BaseException | None = None
        self.limits_granted: tuple[float, float] | None = None  # worker.limiting: at, waited
        self.store: WorkerStore | None = runtime.store
        self.claimed: Claim | None = None
        self.store_error: str | None = None
        try:
            self.envelope = envelope = decode(raw)
        except Exception as exc:  # whatever stops the decoder makes the message poison
            self.reason, self.error = UNDECODABLE, exc
            return
        self.attempt = envelope.attempt + redeliveries
        try:
            self.task = runtime.task(envelope.task)
        except TaskNotAllowedError as exc:
            from lambda_jobs.worker.coldstart import UnknownTaskError

            unknown = isinstance(exc, UnknownTaskError)
            self.reason, self.error = (UNKNOWN_TASK if unknown else NOT_ALLOWED), exc
            return
        try:
            self.options = JobOptions(self.task, envelope)
        except LambdaJobsError as exc:
            self.reason, self.error = UNDECODABLE, exc
            return
        if self.attempt > self.options.max_attempts:
            self.reason = EXHAUSTED

    def time_limit(self, clock: FunctionClock) -> tuple[float | None, str]:
        """The attempt's time limit from now and its message; ``(None, "")`` if it cannot run."""
        if self.task is None or self.options is None:
            return None, ""
        return clock.time_limit(self.options.timeout, self.task.name)

    def run(self, clock: FunctionClock, limit: float | None, message: str) -> AttemptOutcome:
        """Run the attempt under ``limit`` (taken before the claim), taken again after a claim:
        the store's write took time, so the deadline is that much nearer."""
        task, envelope, options = self.task, self.envelope, self.options
        assert task is not None and envelope is not None and options is not None
        if self.claimed is not None:
            limit, message = self.time_limit(clock)
        return run_attempt(task, envelope, self.attempt, options.max_attempts, limit, message)

    def claim(
        self, time_limit: float | None, worker_id: str, delivered_attempt: int | None = None
    ) -> ClaimAction:
        """Claim the job in the store; returns the action (see :class:`.claims.Claim`).

        ``delivered_attempt`` (Lamb) is the attempt the delivery carries: it tells the scheduled
        retry of a ``retrying`` job from a copy of an earlier delivery (``waiting``).

        ``run`` also when the store is off, unreachable (``store_error`` is set) or the job cannot
        be claimed (no envelope). On ``run`` with a store, ``attempt`` is the store's and
        ``reason`` is ``exhausted`` again only if that attempt is past the last one.
        """
        if self.store is None or self.envelope is None or self.options is None:
            return RUN
        if self.reason not in (None, EXHAUSTED):
            return RUN
        from lambda_jobs.jobstore.claims import claim

        lease = time_limit if time_limit is not None else MAX_LEASE_SECONDS
        self.claimed = found = claim(
            self.store,
            self.envelope,
            max_attempts=self.options.max_attempts,
            lease_seconds=lease,
            worker_id=worker_id,
            delivered_attempt=delivered_attempt,
        )
        if found.action == UNAVAILABLE:
            self.store_error = f"claim failed, ran without it: {found.error}"
            return RUN
        if found.action == RUN and found.attempt is not None:
            self.attempt = found.attempt
            self.reason = EXHAUSTED if self.attempt > self.options.max_attempts else None
        return found.action

    def settle(
        self,
        outcome: Outcome,
        *,
        value: Any = None,
        error_type: str | None = None,
        error_message: str = "",
        error: BaseException | None = None,
    ) -> None:
        """Record ``outcome`` (``succeeded``, ``retrying`` or ``dead_lettered``, as the job's log
        line says it) in the store, if on, as the job's status
        (:data:`lambda_jobs.jobstore.schema.STATUS_OF_OUTCOME`); a failure lands in
        ``store_error``."""
        if self.store is None:
            return
        task, job_id = self.identity()
        if job_id is None:
            return
        from lambda_jobs.jobstore.claims import finish
        from lambda_jobs.jobstore.schema import STATUS_OF_OUTCOME

        status = STATUS_OF_OUTCOME[outcome]

        claimed = self.claimed is not None and self.claimed.action == RUN
        # A claim whose attempt is past the last one: dead-lettered without running.
        unrun = claimed and self.reason == EXHAUSTED and error is None
        failure = finish(
            self.store,
            job_id,
            attempt=self.attempt if claimed else None,
            status=status,
            task=task,
            value=value,
            error_type=error_type,
            error_message=error_message,
            error=error,
            unrun_worker=self.claimed.worker_index if unrun and self.claimed else None,
            release_key=self.claimed.release_key if claimed and self.claimed else ...,
        )
        if failure is not None:
            text = f"recording {status} failed: {failure}"
            self.store_error = f"{self.store_error}; {text}" if self.store_error else text

    @property
    def known_attempt(self) -> int | None:
        """The attempt for logs and the DLQ; None when neither envelope nor SQS tells it."""
        return self.attempt if self.envelope is not None or self.receive_count else None

    def refusal(self) -> tuple[str, str]:
        """The DLQ error type and message of a job that cannot run (``reason`` is set)."""
        if self.error is not None:
            from lambda_jobs.worker.runner import error_type_name

            return error_type_name(self.error), str(self.error)
        assert self.options is not None
        detail = (
            f" (ApproximateReceiveCount {self.receive_count}; the function crashed or timed "
            "out while running them)"
            if self.receive_count is not None
            else ""
        )
        return INCOMPLETE_ATTEMPTS, (
            f"attempt {self.attempt} is past max_attempts {self.options.max_attempts}: previous "
            f"attempts did not finish{detail}"
        )

    def identity(self) -> tuple[str | None, str | None]:
        """``(task, job id)``: from the envelope, else from the raw job when they are strings."""
        if self.envelope is not None:
            return self.envelope.task, self.envelope.id
        data = self.raw
        if isinstance(data, str):
            import json

            try:
                data = json.loads(data)
            except (ValueError, RecursionError, MemoryError):
                return None, None
        if not isinstance(data, dict):
            return None, None
        from lambda_jobs.scheduling import recurring

        if recurring.is_delivery(data) and isinstance(data.get("job"), dict):
            data = data["job"]
        task, job_id = data.get("task"), data.get("id")
        return (
            task[:256] if isinstance(task, str) and task else None,
            job_id[:256] if isinstance(job_id, str) and job_id else None,
        )

    def log(
        self, outcome: Outcome, duration_ms: float = 0.0, *, ran: bool | None = None, **extra: Any
    ) -> None:
        """Write this job's log line (:func:`lambda_jobs.worker.joblog.log_job`); ``extra`` are
        the outcome's own fields (``error_type``, ``retry_in_s``, ...); ``ran`` whether an attempt
        ran (None: the outcome says)."""
        env = self.envelope
        options = self.options
        if env is not None:
            if env.schedule is not None:  # a recurring firing: which schedule (its time is due_at)
                extra.setdefault("schedule", env.schedule.get("name"))
            if self.limits_granted is not None:  # ran under limits (worker.limiting)
                extra.setdefault("granted_at", self.limits_granted[0])
                extra.setdefault("limited_s", self.limits_granted[1])
            if env.workflow is not None:  # a workflow's step: which workflow, which position
                extra.setdefault("workflow_id", env.workflow["id"])
                extra.setdefault(
                    "workflow_step", f"{env.workflow['stage']}.{env.workflow['member']}"
                )
            log_job(
                env.id,
                env.task,
                env.queue,
                self.attempt,  # the known attempt: the envelope tells it
                options.max_attempts if options is not None else None,
                outcome,
                duration_ms,
                env.run_after or env.enqueued_at,
                self.message_id,
                self.store_error,
                extra or None,
                ran,
            )
            return
        task, job_id = self.identity()
        log_job(
            job_id,
            task,
            None,
            self.known_attempt,
            None,
            outcome,
            duration_ms,
            None,
            self.message_id,
            self.store_error,
            extra or None,
            ran,
        )


def dead_letter(
    job: Arrival,
    *,
    body: str,
    reason: Reason,
    error_type: str,
    error_message: str,
    error: BaseException | None,
    duration_ms: float,
    deduplication_id: str,
    group_id: str | None,
) -> Exception | None:
    """Send ``job`` to the DLQ and log it; None when the DLQ accepted it, else the AWS error.

    ``body`` is kept unchanged in the DLQ entry (so a redrive sends it back as it was); ``error``
    (the task's exception, if it ran) gives the traceback attribute. The caller keeps a job whose
    send failed: Goat lists it in ``batchItemFailures``, Lamb raises so Lambda's retries keep it.
    """
    from lambda_jobs.worker import deadletter

    task_name, job_id = job.identity()
    try:
        deadletter.send(
            body,
            deadletter.attributes(
                reason=reason,
                error_type=error_type,
                error_message=error_message,
                error=error,
                attempts=job.known_attempt,
                source=job.source,
                task=task_name,
                job_id=job_id,
            ),
            deduplication_id=deduplication_id,
            group_id=group_id,
        )
    except Exception as exc:
        job.log(
            DEAD_LETTER_FAILED,
            duration_ms,
            ran=error is not None,
            error_type=error_type,
            reason=reason,
            aws_error=f"{type(exc).__name__}: {exc}",
        )
        return exc
    # Only once the DLQ holds it: a job kept for a failed send must not look finished.
    job.settle(DEAD_LETTERED, error_type=error_type, error_message=error_message, error=error)
    job.log(DEAD_LETTERED, duration_ms, ran=error is not None, error_type=error_type, reason=reason)
    return None
