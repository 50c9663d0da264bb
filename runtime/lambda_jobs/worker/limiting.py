"""The worker's side of flow control: take a job's limits before its claim, give them back after.

:func:`enter` is called by the lifecycle (:func:`lambda_jobs.worker.lifecycle.live`) for a job
whose task (or whose ``using(limits=...)``) has limits, *before* the job store's claim: a job that
is limited has not been claimed, so waiting uses up no attempt. Concurrency slots are taken
first, rates last (a rate start cannot be given back; a slot can). See
:mod:`lambda_jobs.jobstore.limits` for the conditional writes.

A limited job waits, it is never lost (docs/guide/limits.md):

- **Goat, standard queue** (:func:`goat_wait`): a fresh copy of the envelope (same attempt) is sent
  with ``DelaySeconds`` = the wait and the original is acknowledged, as a deadline hand-back does:
  the copy's receive count starts at 0, so waiting never reaches ``maxReceiveCount`` or the DLQ.
  If the copy is refused, or on a **FIFO** queue (SQS refuses a per-message ``DelaySeconds`` on
  FIFO queues: "Amazon SQS message timers"), the message is hidden for the wait and listed; that
  uses up a receive.
- **Lamb** (:func:`lamb_wait`): a one-time EventBridge Scheduler schedule re-delivers the same
  envelope after the wait (the retry path's schedule, under a name of its own). Scheduler fires
  ``at(...)`` in whole seconds, rounded up.

Fairness (:mod:`lambda_jobs.jobstore.limits`): the job's id keeps its place among a limit's
waiters; a waiter passed over ``n`` times is *due*, and refused a concurrency slot it comes back
after the shortest wait (1 s).
A job that ran under limits has ``granted_at`` (epoch seconds, the store's time of the grant) and
``limited_s`` (seconds since its first refusal) on its log line.

A store error fails closed: the job waits :data:`STORE_ERROR_WAIT` seconds (the limit protects
what the job calls; running it unchecked could flood that), and the log line carries
``store_error``.
"""

from __future__ import annotations

import math
import random

from lambda_jobs.jobstore.schema import LEASE_GRACE_SECONDS
from lambda_jobs.worker.words import LIMITED

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.limits import Held
    from lambda_jobs.worker.triage import Arrival

#: Seconds a job waits when the store could not be asked.
STORE_ERROR_WAIT = 5
#: Wait of a job refused a concurrency slot: slots come back when a holder ends, which the store
#: does not announce, so it tries again after 1-3 s (spread so waiters do not come back at once).
SLOT_WAIT = (1.0, 3.0)
#: SQS's largest ``DelaySeconds`` ("SendMessage", Amazon SQS API Reference): 15 minutes.
MAX_WAIT_SECONDS = 900
MAX_LEASE_SECONDS = 900.0


class Entered:
    """The outcome of :func:`enter`: ``wait_s`` is None when the job may start (then
    :meth:`leave` gives its slots back), else the whole seconds to wait and the limit's name."""

    __slots__ = ("holder", "name", "slots", "store", "wait_s")

    def __init__(self, job: Arrival, holder: str) -> None:
        self.store = job.store
        self.holder = holder
        self.slots: list[Held] = []
        self.wait_s: int | None = None
        self.name = ""

    def leave(self) -> None:
        """Give back the concurrency slots taken; a failure is left to the lease."""
        from lambda_jobs.jobstore.limits import release

        assert self.store is not None
        for held in self.slots:
            try:
                release(self.store, held, self.holder)
            except Exception:
                continue


def held_limits(job: Arrival) -> list[Held]:
    """The limits ``job`` runs under: its ``using(limits=...)`` override, else its task's."""
    from lambda_jobs import limits

    envelope, task = job.envelope, job.task
    assert envelope is not None and task is not None
    override = envelope.overrides.get("limits")
    if override is not None:
        found = [limits.Held.from_wire(entry) for entry in override]
    else:
        found = limits.resolve(task, task.limits, envelope.args, envelope.kwargs)
    return sorted(found, key=lambda held: held.kind != limits.CONCURRENCY)


def enter(job: Arrival, time_limit: float | None, worker_id: str) -> Entered:
    """Take every limit of ``job`` or none (slots taken are given back when one refuses)."""
    from lambda_jobs.jobstore.limits import acquire

    envelope = job.envelope
    assert envelope is not None
    entered = Entered(job, f"{envelope.id}/{worker_id}")
    store = job.store
    try:
        held_list = held_limits(job)
    except ValueError as exc:  # a malformed ``overrides["limits"]``: dead-lettered unrun
        from lambda_jobs.worker.words import UNDECODABLE

        job.reason, job.error = UNDECODABLE, exc
        return entered
    if store is None:  # cold start refuses this (worker.coldstart); never runs unchecked
        entered.wait_s, entered.name = STORE_ERROR_WAIT, held_list[0].name if held_list else ""
        job.store_error = "limits need the job store (LAMBDA_JOBS_JOB_TABLE is not set)"
        return entered
    lease = (time_limit if time_limit is not None else MAX_LEASE_SECONDS) + LEASE_GRACE_SECONDS
    granted_at, waited = 0.0, 0.0
    for held in held_list:
        due = False
        try:
            decision = acquire(store, held, entered.holder, lease, envelope.id)
            wait, due = decision.wait, decision.due
            granted_at, waited = decision.at, max(waited, decision.waited)
        except Exception as exc:
            job.store_error = f"limit {held.name!r} not checked: {type(exc).__name__}: {exc}"
            wait = float(STORE_ERROR_WAIT)
        if wait is None:
            if held.kind == "concurrency":
                entered.slots.append(held)
            continue
        entered.leave()
        entered.slots = []
        if held.kind == "concurrency" and job.store_error is None:
            # Due (passed over n times): a slot is kept for it, so it comes back at once; else
            # after 1-3 s (a slot frees when a holder ends, which nothing announces). A rate's
            # wait is exact: when its window has room.
            wait = 0.0 if due else random.uniform(*SLOT_WAIT)
        entered.wait_s = min(max(math.ceil(wait + random.random() / 2), 1), MAX_WAIT_SECONDS)
        entered.name = held.name
        return entered
    # On the job's line: when its limits were granted (the store's clock; a rate's window is
    # measured on these times) and how long it had waited for them.
    job.limits_granted = (round(granted_at, 3), round(waited, 3))
    return entered


def goat_wait(record: Any, seconds: int, name: str) -> bool:
    """Goat's wait (module docstring); True to acknowledge the original, False to list it."""
    from lambda_jobs.worker import goat

    aws_error = None
    if not record.source.endswith(".fifo"):
        try:
            from lambda_jobs import aws

            entry = goat._copy_entry("0", record)
            entry.pop("Id")
            aws.client("sqs", None).send_message(
                QueueUrl=goat.queue_url(record.source), DelaySeconds=seconds, **entry
            )
        except Exception as exc:
            aws_error = f"SendMessage failed: {type(exc).__name__}: {exc}"
        else:
            record.log(LIMITED, 0.0, limit=name, retry_in_s=seconds)
            return True
    hidden = goat._hide(record, seconds)
    record.log(LIMITED, 0.0, limit=name, retry_in_s=seconds, aws_error=aws_error or hidden)
    return False


def lamb_wait(job: Arrival, seconds: int, name: str) -> dict[str, Any]:
    """Lamb's wait (module docstring): a one-time schedule; raises if it cannot be created, so
    Lambda's async retries keep the job."""
    import os
    import uuid
    from datetime import UTC, datetime, timedelta

    from lambda_jobs import aws
    from lambda_jobs.scheduling import one_time
    from lambda_jobs.worker.deadletter import DLQ_URL_ENV
    from lambda_jobs.worker.lamb import SCHEDULER_GROUP_ENV, SCHEDULER_ROLE_ENV

    envelope = job.envelope
    assert envelope is not None
    try:
        dlq_url = os.environ.get(DLQ_URL_ENV, "").strip()
        target: dict[str, Any] = {
            "Arn": job.source,
            "RoleArn": os.environ[SCHEDULER_ROLE_ENV].strip(),
            "Input": one_time.checked_input(envelope, lamb=True),
        }
        if dlq_url:
            target["DeadLetterConfig"] = {
                "Arn": one_time.queue_arn_of_url(dlq_url, like_arn=job.source)
            }
        aws.client("scheduler", None).create_schedule(
            # Its own name: the retry schedules are named by attempt, and a wait keeps the attempt.
            Name=f"{one_time.ONE_TIME_PREFIX}w{uuid.uuid4().hex}"[:64],
            GroupName=os.environ[SCHEDULER_GROUP_ENV].strip(),
            ScheduleExpression=one_time.at_expression(
                datetime.now(UTC) + timedelta(seconds=seconds)
            ),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target=target,
        )
    except Exception as exc:
        error = f"CreateSchedule failed: {type(exc).__name__}: {exc}"
        job.log(LIMITED, 0.0, limit=name, retry_in_s=seconds, aws_error=error)
        raise
    job.log(LIMITED, 0.0, limit=name, retry_in_s=seconds)
    return {"job_id": envelope.id, "outcome": LIMITED, "limit": name, "retry_in_s": seconds}
