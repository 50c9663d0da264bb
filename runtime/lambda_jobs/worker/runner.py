"""Run one attempt of one job: the single place where a task function is called from a message.

The Lambda handler (both backends) and inline mode use it alike, so a job behaves the same in a
test as in Lambda: the arguments are the envelope's, ``takes_context`` gets a
:class:`~lambda_jobs.context.JobContext`, the attempt is bounded by a :class:`TimeLimit`, and every
exception the task raises (any ``BaseException``: ``SystemExit``, ``KeyboardInterrupt``,
``asyncio.CancelledError``...) becomes a failed :class:`AttemptOutcome` instead of escaping. An
``async def`` task's coroutine is run to completion on its own event loop
(:mod:`lambda_jobs.worker.coroutine`); a function that returns a generator fails the attempt (its
body never ran). Nothing here talks to AWS or logs: deciding what a failure means (retry,
dead-letter) is the caller's job.
"""

from __future__ import annotations

from time import monotonic

import lambda_jobs  # its ``JobContext`` loads on first use: only takes_context tasks need it
from lambda_jobs.errors import JobTimeoutError
from lambda_jobs.options import RetryPolicy, check_timeout
from lambda_jobs.worker.timelimit import TimeLimit

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.envelope import Envelope
    from lambda_jobs.tasks import Task


async def _probe_coroutine() -> None:
    """Only called to learn the coroutine type without importing :mod:`types` (cold start)."""


def _probe_generator() -> Any:
    yield


async def _probe_async_generator() -> Any:
    yield


_probe = _probe_coroutine()
#: What calling an ``async def`` function returns: :mod:`lambda_jobs.worker.coroutine` runs it.
CoroutineType = type(_probe)
_probe.close()
del _probe
#: What calling a generator or async generator function returns: the task's body never ran.
GeneratorType = type(_probe_generator())
AsyncGeneratorType = type(_probe_async_generator())


class JobOptions:
    """The retry policy and timeout one job runs with: the envelope's overrides win over the task's.

    Building one validates the overrides' ranges (the envelope only checks their types), so a
    message with, say, ``"retries": 1000`` fails here with an
    :class:`~lambda_jobs.errors.InvalidTaskError` naming the option.
    """

    __slots__ = ("max_attempts", "retry", "timeout")

    def __init__(self, task: Task[..., Any], envelope: Envelope) -> None:
        overrides = envelope.overrides
        base = task.retry
        if not overrides:  # the common case: the task's own options
            self.retry, self.timeout = base, task.timeout
            self.max_attempts: int = base.retries + 1
            return
        if any(key in overrides for key in RetryPolicy.__slots__):
            self.retry = RetryPolicy(
                retries=overrides.get("retries", base.retries),
                retry_backoff=float(overrides.get("retry_backoff", base.retry_backoff)),
                retry_backoff_max=float(overrides.get("retry_backoff_max", base.retry_backoff_max)),
                retry_jitter=overrides.get("retry_jitter", base.retry_jitter),
            )
        else:
            self.retry = base
        self.timeout = (
            check_timeout(overrides["timeout"]) if "timeout" in overrides else task.timeout
        )
        #: ``retry.max_attempts``, kept as a plain attribute: read several times per job.
        self.max_attempts = self.retry.max_attempts


def error_type_name(error: BaseException) -> str:
    """``ValueError`` for built-ins, ``package.module.ClassName`` for everything else."""
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


class AttemptOutcome:
    """How one attempt ended. ``value`` is the task's return value when ``ok``; else ``error``."""

    __slots__ = ("duration_ms", "error", "ok", "timed_out", "value")

    def __init__(
        self,
        ok: bool,
        duration_ms: float,
        value: Any = None,
        error: BaseException | None = None,
        timed_out: bool = False,
    ) -> None:
        self.ok = ok
        self.duration_ms = duration_ms
        self.value = value
        self.error = error
        self.timed_out = timed_out

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else error_type_name(self.error)

    @property
    def error_message(self) -> str:
        return "" if self.error is None else str(self.error)

    def error_text(self) -> str | None:
        """``"ErrorType: message"`` (what ``Job.error`` and log readers show), or None."""
        if self.error is None:
            return None
        message = self.error_message
        return f"{self.error_type}: {message}" if message else str(self.error_type)


def run_attempt(  # noqa: PLR0917 - positional from the worker: one call per job
    task: Task[..., Any],
    envelope: Envelope,
    attempt: int,
    max_attempts: int,
    time_limit: float | None,
    limit_message: str,
) -> AttemptOutcome:
    """Call ``task`` with ``envelope``'s arguments as attempt ``attempt``; never raises.

    ``time_limit`` (seconds, None: none) is enforced with :class:`TimeLimit` where signals allow
    it; reaching it raises :class:`JobTimeoutError` (with ``limit_message``) inside the task and
    the attempt fails with ``timed_out=True``, even if the task swallowed the exception.
    """
    started = monotonic()
    limit = TimeLimit(time_limit, limit_message)
    try:
        with limit:
            if task.takes_context:
                from datetime import datetime  # only for a task that takes its context

                schedule = envelope.schedule or {}
                scheduled_time = schedule.get("scheduled_time")
                context = lambda_jobs.JobContext(
                    job_id=envelope.id,
                    task_name=task.name,
                    queue_name=envelope.queue,
                    priority=envelope.priority,
                    attempt=attempt,
                    max_attempts=max_attempts,
                    enqueued_at=envelope.enqueued_at,
                    deadline=None if time_limit is None else started + time_limit,
                    schedule_name=schedule.get("name"),
                    scheduled_time=(
                        datetime.fromisoformat(scheduled_time) if scheduled_time else None
                    ),
                )
                value = task.func(context, *envelope.args, **envelope.kwargs)
            else:
                value = task.func(*envelope.args, **envelope.kwargs)
            kind = type(value)
            if kind is CoroutineType:  # an async def task: run it to completion
                from lambda_jobs.worker.coroutine import run_coroutine

                value = run_coroutine(value, limit)
            elif kind is GeneratorType or kind is AsyncGeneratorType:
                from lambda_jobs.worker.coroutine import not_run

                raise not_run(task.name, value)
    except BaseException as error:  # anything the task raises is this job's failure
        limit.release()  # in case the alarm fired as the block was left, before ``__exit__``
        timed_out = limit.fired or isinstance(error, JobTimeoutError)
        return AttemptOutcome(
            ok=False, duration_ms=_ms_since(started), error=error, timed_out=timed_out
        )
    if limit.fired:
        # The task caught the timeout and returned anyway: it still ran past its limit.
        return AttemptOutcome(
            ok=False,
            duration_ms=_ms_since(started),
            error=JobTimeoutError(limit_message),
            timed_out=True,
        )
    return AttemptOutcome(True, round((monotonic() - started) * 1000, 3), value)


def _ms_since(started: float) -> float:
    return round((monotonic() - started) * 1000, 3)
