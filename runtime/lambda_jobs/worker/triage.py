"""What both worker backends do with a job before running it, and how they dead-letter it.

:class:`Arrival` is one job as it reached the function, decoded as far as it goes without any AWS
call: the envelope, the task (from the cold-start allow-list), the :class:`JobOptions` it runs
with and the attempt it is. When it cannot run, ``reason`` says why, in the dead-letter queue's
words (:data:`lambda_jobs.worker.deadletter.REASONS`):

- ``undecodable``: not an envelope this runtime reads, or its overrides are out of range;
- ``unknown_task``: no task of that name is registered; ``not_allowed``: registered only after
  cold start (:meth:`lambda_jobs.worker.coldstart.Runtime.task`);
- ``exhausted``: the attempt is already past the last one (earlier deliveries never finished),
  dead-lettered with error type ``IncompleteAttempts``.

Goat decodes an SQS body and counts the redeliveries SQS reports
(:mod:`lambda_jobs.worker.goat`); Lamb decodes the invoke payload (:mod:`lambda_jobs.worker.lamb`).
Both log with :meth:`Arrival.log` and dead-letter with :func:`dead_letter`, so one job reads the
same in the logs and the DLQ whichever backend ran it.
"""

from __future__ import annotations

from lambda_jobs.errors import LambdaJobsError, TaskNotAllowedError
from lambda_jobs.worker.joblog import log_job
from lambda_jobs.worker.runner import JobOptions

TYPE_CHECKING = False  # ``typing`` costs milliseconds at import: not on the cold-start path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from lambda_jobs.envelope import Envelope
    from lambda_jobs.tasks import Task
    from lambda_jobs.worker.coldstart import Runtime

#: The DLQ error type of a job whose earlier attempts never finished (a crash, a timeout).
INCOMPLETE_ATTEMPTS = "IncompleteAttempts"


class Arrival:
    """One job as it reached the worker; see the module docstring for ``reason``.

    ``raw`` is what identifies a job that could not be decoded (the payload dict, or the SQS body
    text); ``source`` is the ARN it came from (queue or function); ``receive_count`` is SQS's
    ``ApproximateReceiveCount`` (None where deliveries are not counted: Lamb), each delivery after
    the first counting as an attempt that did not finish; ``log_extra`` are fields every log line
    of this job carries (Goat: ``message_id``).
    """

    __slots__ = (
        "attempt",
        "envelope",
        "error",
        "log_extra",
        "options",
        "raw",
        "reason",
        "receive_count",
        "source",
        "task",
    )

    def __init__(
        self,
        raw: Any,
        decode: Callable[[Any], Envelope],
        runtime: Runtime,
        *,
        source: str,
        receive_count: int | None = None,
        log_extra: dict[str, Any] | None = None,
    ) -> None:
        self.raw = raw
        self.source = source
        self.receive_count = receive_count
        redeliveries = receive_count - 1 if receive_count is not None else 0
        self.log_extra = log_extra or {}
        self.envelope: Envelope | None = None
        self.task: Task[..., Any] | None = None
        self.options: JobOptions | None = None
        self.attempt = 1 + redeliveries
        self.reason: str | None = None
        self.error: BaseException | None = None
        try:
            self.envelope = envelope = decode(raw)
        except LambdaJobsError as exc:
            self.reason, self.error = "undecodable", exc
            return
        self.attempt = envelope.attempt + redeliveries
        try:
            self.task = runtime.task(envelope.task)
        except TaskNotAllowedError as exc:
            from lambda_jobs.worker.coldstart import UnknownTaskError

            unknown = isinstance(exc, UnknownTaskError)
            self.reason, self.error = ("unknown_task" if unknown else "not_allowed"), exc
            return
        try:
            self.options = JobOptions(self.task, envelope)
        except LambdaJobsError as exc:
            self.reason, self.error = "undecodable", exc
            return
        if self.attempt > self.options.max_attempts:
            self.reason = "exhausted"

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
            except ValueError:
                return None, None
        if not isinstance(data, dict):
            return None, None
        task, job_id = data.get("task"), data.get("id")
        return (
            task[:256] if isinstance(task, str) and task else None,
            job_id[:256] if isinstance(job_id, str) and job_id else None,
        )

    def log(self, outcome: str, duration_ms: float = 0.0, **extra: Any) -> None:
        """Write this job's log line (:func:`lambda_jobs.worker.joblog.log_job`)."""
        env = self.envelope
        task: str | None
        job_id: str | None
        if env is not None:
            task, job_id, queue = env.task, env.id, env.queue
            due_at = env.run_after or env.enqueued_at
        else:
            (task, job_id), queue, due_at = self.identity(), None, None
        log_job(
            job_id=job_id,
            task=task,
            queue=queue,
            attempt=self.known_attempt,
            max_attempts=self.options.max_attempts if self.options else None,
            outcome=outcome,
            duration_ms=duration_ms,
            due_at=due_at,
            **self.log_extra,
            **extra,
        )


def dead_letter(
    job: Arrival,
    *,
    body: str,
    reason: str,
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
            "dead_letter_failed",
            duration_ms,
            error_type=error_type,
            reason=reason,
            aws_error=f"{type(exc).__name__}: {exc}",
        )
        return exc
    job.log("dead_lettered", duration_ms, error_type=error_type, reason=reason)
    return None
