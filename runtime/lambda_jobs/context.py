"""What a running job may know about itself (``@task(takes_context=True)``).

Follows Django's convention: the task's first parameter is named ``context`` and receives a
:class:`JobContext`. ``remaining_seconds()`` is the time left before the job is stopped — the
smaller of the task's ``timeout`` and the Lambda function's deadline less the handler's margin
(``LAMBDA_JOBS_DEADLINE_MARGIN_MS``, default 2 s, kept for the work after the job:
:mod:`lambda_jobs.worker.deadline`) — so a task can checkpoint or split its work before it is cut
off.
"""

from __future__ import annotations

import time
from datetime import datetime


class JobContext:
    """Identity and clock of one attempt of one job.

    ``attempt`` is 1 for the first run, 2 for the first retry, and so on; ``max_attempts`` is
    ``retries + 1``, the attempt after which a failure goes to the dead-letter queue; ``deadline``
    is the ``time.monotonic()`` value at which the job is stopped (None: no limit, in-process).

    A job started by a recurring schedule (``JobSchedule``) has ``schedule_name`` (the schedule's
    name) and ``scheduled_time`` (the firing's time, as EventBridge Scheduler gives it, aware);
    ``from_schedule`` is then True. Every retry of that job carries the same two.
    """

    __slots__ = (
        "attempt",
        "deadline",
        "enqueued_at",
        "job_id",
        "max_attempts",
        "priority",
        "queue_name",
        "schedule_name",
        "scheduled_time",
        "task_name",
    )

    def __init__(
        self,
        *,
        job_id: str,
        task_name: str,
        queue_name: str,
        attempt: int,
        max_attempts: int,
        enqueued_at: datetime,
        deadline: float | None = None,
        schedule_name: str | None = None,
        scheduled_time: datetime | None = None,
        priority: int = 0,
    ) -> None:
        self.job_id = job_id
        self.task_name = task_name
        self.queue_name = queue_name
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.enqueued_at = enqueued_at
        self.deadline = deadline
        self.schedule_name = schedule_name
        self.scheduled_time = scheduled_time
        self.priority = priority

    def __repr__(self) -> str:
        return f"<JobContext {self.task_name} id={self.job_id} attempt={self.attempt}>"

    def remaining_seconds(self) -> float | None:
        """Seconds left before this attempt is stopped (its timeout, or the function's deadline
        less ``LAMBDA_JOBS_DEADLINE_MARGIN_MS``), or None when nothing limits it (in-process)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    @property
    def from_schedule(self) -> bool:
        """True when a recurring schedule started this job (``schedule_name`` says which)."""
        return self.schedule_name is not None

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now sends the job to the dead-letter queue."""
        return self.attempt >= self.max_attempts
