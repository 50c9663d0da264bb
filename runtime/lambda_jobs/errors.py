"""Every exception the runtime raises on purpose.

Callers may rely on the class hierarchy: everything derives from :class:`LambdaJobsError`, input
mistakes also derive from :class:`ValueError` (so ``except ValueError`` keeps working), and
:class:`EnqueueError` always carries the job ids that were not sent.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Sequence


class LambdaJobsError(Exception):
    """Base class of every lambda-jobs error."""


class ConfigurationError(LambdaJobsError):
    """``LAMBDA_JOBS_CONFIG`` is missing, unreadable or does not match the schema."""


class RefusedJob:
    """One job of a call that :class:`InvalidJobError` refused.

    ``position`` is its index in the call (0 for ``Task.enqueue``; in ``enqueue_many``, the
    order the jobs were given in, counting from 0), ``job_id`` its id, ``task`` its task's name
    and ``message`` why it cannot work. (A plain class: ``typing`` is not on the cold-start path.)
    """

    __slots__ = ("job_id", "message", "position", "task")

    def __init__(self, position: int, job_id: str, task: str, message: str) -> None:
        self.position = position
        self.job_id = job_id
        self.task = task
        self.message = message

    def __repr__(self) -> str:
        return (
            f"RefusedJob(position={self.position}, job_id={self.job_id!r}, task={self.task!r}, "
            f"message={self.message!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RefusedJob):
            return NotImplemented
        return (self.position, self.job_id, self.task, self.message) == (
            other.position,
            other.job_id,
            other.task,
            other.message,
        )

    __hash__ = None  # type: ignore[assignment]


class InvalidJobError(LambdaJobsError, ValueError):
    """A job that cannot work was rejected before anything was sent.

    Raised for arguments that are not JSON, payloads over the backend's limit, delays in the past or
    over the maximum, unknown queues and priorities out of range. Nothing was sent. ``refused``
    lists every refused job of the call (:class:`RefusedJob`: position, id, task, message), and
    the message of an ``enqueue_many`` call names each of them; empty when the error is not about
    one job of a call (a task's options, a schedule).
    """

    def __init__(self, message: str, *, refused: Sequence[RefusedJob] = ()) -> None:
        super().__init__(message)
        self.refused: tuple[RefusedJob, ...] = tuple(refused)


class InvalidTaskError(LambdaJobsError, ValueError):
    """A ``@task`` declaration has an option out of its range (the message names it)."""


class EnvelopeError(LambdaJobsError, ValueError):
    """A message body is not a lambda-jobs envelope this version can read."""


class TaskNotAllowedError(LambdaJobsError):
    """A message names a task that the handler's ``LAMBDA_JOBS_TASKS`` modules did not register."""


class JobTimeoutError(LambdaJobsError):
    """A job ran past its task's ``timeout``; it counts as a failed attempt."""


class EnqueueError(LambdaJobsError):
    """AWS refused or failed to accept jobs after botocore's retries.

    ``job_ids`` lists the jobs whose sending was not confirmed; ``sent_ids`` (bulk enqueue) the
    ones AWS confirmed. ``errors`` maps a failed job id to the reason AWS gave. When AWS accepted a
    request but its answer was lost (a dropped connection, a 5xx after the fact), a job in
    ``job_ids`` may still run: retrying it can run it twice, as at-least-once delivery allows.
    """

    def __init__(
        self,
        message: str,
        *,
        job_ids: Sequence[str],
        sent_ids: Sequence[str] = (),
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.job_ids: tuple[str, ...] = tuple(job_ids)
        self.sent_ids: tuple[str, ...] = tuple(sent_ids)
        self.errors: dict[str, str] = dict(errors or {})


class UnknownJobError(LambdaJobsError, LookupError):
    """The job store has no job of that id (a wrong id, or its item expired with the TTL)."""


class JobStateError(LambdaJobsError):
    """The job is in a state that does not allow this (cancelling a running or finished job)."""


class IncompleteAttempts(LambdaJobsError):
    """Error type of a job dead-lettered because its deliveries kept ending without an outcome
    (the function crashed or timed out mid-attempt). The worker records it by name
    (``IncompleteAttempts``); the class exists so that readers such as Django's
    ``TaskError.exception_class`` can resolve it."""


class ResultNotStored(LambdaJobsError):
    """Error type recorded when a job succeeded but its return value could not be stored (not
    JSON, or over the job store's limit); the message says which (``lambda_jobs.ResultNotStored``
    in the job store)."""
