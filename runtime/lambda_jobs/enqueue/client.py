"""The one enqueue path: validate, encode, pick the lane, hand to the backend's sender.

Every send comes here through the backend object (:func:`lambda_jobs.backends.enqueue`): Goat's
and Lamb's ``enqueue`` is :func:`enqueue_jobs` with their send, inline's checks its jobs with
:func:`checked_envelopes` before it runs them. Every job of a call is
checked before anything is sent; a job that cannot work raises :class:`InvalidJobError` naming the
problem (and nothing of the call is sent):

- an argument that is not plain JSON (the argument, the type, the path inside it);
- an envelope over ``max_payload_bytes`` (the size and the limit), or over EventBridge Scheduler's
  256 KB when a schedule carries it (Goat's own default is 1 MiB less a 16 KiB dead-letter reserve);
- ``run_after`` more than :data:`RUN_AFTER_TOLERANCE_SECONDS` in the past (by how much), or further
  away than ``max_delay_seconds``;
- a delay this configuration cannot carry: on Lamb every delay, on a FIFO lane every delay and on
  Goat every delay over 900 s need the scheduler, and ``"scheduler": null`` has none;
- a queue the configuration does not have (the known ones are listed), a priority out of
  -100..100, the same job id twice in one call.

Every job of the call is checked: the error's ``refused`` lists each refused job (position in the
call, id, task, message) and an ``enqueue_many`` message names them all.

With the job store configured, the job items are written (and unique keys taken) before the send
(:mod:`lambda_jobs.jobstore.records`); a job whose unique key a pending job holds is not sent, and
its receipt is that job (``existing``). A unique key without a job store is an ``InvalidJobError``.

``LAMBDA_JOBS_CONFIG`` problems raise :class:`ConfigurationError`. AWS errors (after botocore's
retries) raise one :class:`EnqueueError` carrying the job ids; see
:mod:`lambda_jobs.enqueue.outgoing`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from lambda_jobs.backends import backend_of
from lambda_jobs.contract import SQS_MAX_DELAY_SECONDS
from lambda_jobs.errors import (
    ConfigurationError,
    EnqueueError,
    InvalidJobError,
    InvalidTaskError,
    RefusedJob,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from lambda_jobs.config import ClientConfig, QueueConfig
    from lambda_jobs.enqueue.outgoing import Outgoing
    from lambda_jobs.envelope import Envelope
    from lambda_jobs.job import Job, PreparedJob

#: A ``run_after`` up to this far in the past counts as "now": the caller's clock read and ours
#: differ by a little (``datetime.now(UTC)`` computed before the call). Further back is a mistake.
RUN_AFTER_TOLERANCE_SECONDS = 1.0


#: A backend's send: every job of ``outgoing``, or one ``EnqueueError`` naming those not accepted.
type Send = Callable[[list[Outgoing], ClientConfig, bool], None]


def enqueue_jobs(
    prepared: list[PreparedJob], config: ClientConfig, send: Send, *, single: bool
) -> list[Job]:
    """Validate every job, register it in the job store (if any), then ``send`` them; receipts
    in input order. A Goat or Lamb backend's ``enqueue`` (:mod:`lambda_jobs.backends`).

    Goat sends ``SendMessageBatch`` requests of 10 in parallel and retries the entries SQS rejects;
    Lamb sends one ``Invoke`` per job, in parallel. If AWS refuses some jobs, the
    :class:`EnqueueError` names exactly which (``job_ids``) and which were sent (``sent_ids``).
    """
    now = now_ms()
    outgoing = _checked(prepared, lambda job: _outgoing(job, config, now), config, single=single)
    existing: dict[str, Job] = {}
    if config.job_store is not None:
        from lambda_jobs.jobstore import records

        existing = records.register(prepared, outgoing, config)
    to_send = [item for item in outgoing if item.job_id not in existing]
    try:
        if to_send:
            send(to_send, config, single)
    except EnqueueError as exc:
        if config.job_store is not None:
            from lambda_jobs.jobstore import records

            records.forget(prepared, list(exc.job_ids), config)
        raise
    return [existing.get(item.job_id) or _receipt(item, now, config) for item in outgoing]


def now_ms() -> datetime:
    """The enqueue time: now, to the millisecond. The envelope carries milliseconds
    (:mod:`lambda_jobs.envelope`): the receipt's time is that one too, so ``Job.enqueued_at``
    equals the ``JobContext.enqueued_at`` the task sees."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _checked[T](
    prepared: list[PreparedJob],
    check: Callable[[PreparedJob], T],
    config: ClientConfig,
    *,
    single: bool,
) -> list[T]:
    """``check`` of every job, in order; :class:`InvalidJobError` naming every refused job.

    Every job is checked even after one is refused, so one error lists them all (``refused``);
    a single ``enqueue`` keeps its one job's message as it is.
    """
    results: list[T] = []
    refused: list[RefusedJob] = []
    seen: set[str] = set()
    for position, job in enumerate(prepared):
        try:
            if job.id in seen:
                raise InvalidJobError(
                    f"job id {job.id} appears twice in one enqueue; prepare each job separately"
                )
            seen.add(job.id)
            if job.awaits_result is not None:
                raise InvalidJobError(job.awaits_result)
            if config.job_store is None:
                _check_no_unique(job, config)
                _check_no_limits(job, config)
            results.append(check(job))
        except InvalidJobError as exc:
            refused.append(RefusedJob(position, job.id, job.task.name, str(exc)))
    if not refused:
        return results
    if single:
        raise InvalidJobError(refused[0].message, refused=refused)
    lines = "".join(
        f"\n  job {r.position} (id {r.job_id}, task {r.task}): {r.message}" for r in refused
    )
    raise InvalidJobError(
        f"{len(refused)} of {len(prepared)} jobs refused, nothing was sent "
        f"(position in the call, from 0):{lines}",
        refused=refused,
    )


def _check_no_limits(job: PreparedJob, config: ClientConfig) -> None:
    """Limits are held in the job store: a backend without one cannot take a job under them
    (inline mode runs jobs here and now, without limits: docs/guide/limits.md)."""
    if config.is_inline or not (job.task.limits or job.overrides.get("limits")):
        return
    raise ConfigurationError(
        f"{job.task.name}: its limits need the job store, and this {config.backend} backend has "
        "none (deploy the backend with job_store=JobStore(...), or remove the limits)"
    )


def _check_no_unique(job: PreparedJob, config: ClientConfig) -> None:
    if job.task.unique_key is not None:
        where = "inline mode" if config.is_inline else f"this {config.backend} backend"
        raise InvalidJobError(
            f"{job.task.name}: unique_key needs the job store, and {where} has none "
            "(deploy the backend with job_store=JobStore(...))"
        )


def checked_envelopes(
    prepared: list[PreparedJob], config: ClientConfig, now: datetime, *, single: bool
) -> list[Envelope]:
    """Every job's envelope, checked as a real backend checks it (the inline backend's jobs)."""

    def check(job: PreparedJob) -> Envelope:
        envelope, _body, delay = _envelope_and_delay(job, config, now)
        _check_max_delay(job, config, delay)
        return envelope

    return _checked(prepared, check, config, single=single)


def _outgoing(job: PreparedJob, config: ClientConfig, now: datetime) -> Outgoing:
    from lambda_jobs.enqueue.outgoing import Outgoing
    from lambda_jobs.scheduling import one_time

    queue = _queue(job, config)
    envelope, body, delay = _envelope_and_delay(job, config, now)
    fifo = queue.fifo
    lamb = backend_of(config).invokes_function
    via_scheduler = delay > 0 and (lamb or fifo or delay > SQS_MAX_DELAY_SECONDS)
    if via_scheduler:
        _check_scheduler(job, config, delay, fifo)
    _check_max_delay(job, config, delay)
    if via_scheduler:
        one_time.checked_input(
            envelope,
            lamb=lamb,
            why=(
                f" (its run_after is {delay:,} s away, so a schedule carries it); store large "
                "data elsewhere (e.g. S3) and pass a reference"
            ),
        )
    return Outgoing(
        envelope=envelope,
        body=body,
        lane=queue.lane_for(envelope.priority),
        delay_seconds=delay,
        run_at=now + timedelta(seconds=delay) if via_scheduler else None,
        via_scheduler=via_scheduler,
        message_group_id=(
            (job.task.message_group_id or job.task.name)
            if fifo
            else (None if lamb else job.task.tenant)
        ),
        fifo=fifo,
    )


def _queue(job: PreparedJob, config: ClientConfig) -> QueueConfig:
    try:
        return config.queue(job.task.queue_name)
    except ConfigurationError as exc:
        raise InvalidJobError(f"{job.task.name}: {exc}") from None


def _envelope_and_delay(
    job: PreparedJob, config: ClientConfig, now: datetime
) -> tuple[Envelope, str, int]:
    """The envelope, its JSON body and the whole-second delay, after every per-job check."""
    from lambda_jobs.enqueue.arguments import check_arguments
    from lambda_jobs.envelope import Envelope
    from lambda_jobs.options import check_priority

    task = job.task
    try:
        priority = check_priority(task.priority)
    except InvalidTaskError as exc:
        raise InvalidJobError(f"{task.name}: {exc}") from None
    check_arguments(task.name, job.args, job.kwargs)
    run_after = _absolute_run_after(task.run_after, now)
    delay = _delay_seconds(task.name, run_after, now)
    envelope = Envelope(
        id=job.id,
        task=task.name,
        args=list(job.args),
        kwargs=dict(job.kwargs),
        queue=task.queue_name,
        priority=priority,
        enqueued_at=now,
        run_after=run_after,
        attempt=1,
        overrides=dict(job.overrides),
        workflow=job.workflow,
    )
    from lambda_jobs.jsoncodec import wire_size

    body = envelope.to_json()
    size = wire_size(body)
    if size > config.max_payload_bytes:
        raise InvalidJobError(
            f"{task.name}: job {job.id} is {size:,} bytes as JSON, over the {config.backend} "
            f"backend's limit of {config.max_payload_bytes:,} bytes (max_payload_bytes); store "
            "large data elsewhere (e.g. S3) and pass a reference"
        )
    return envelope, body, delay


def _absolute_run_after(run_after: datetime | timedelta | None, now: datetime) -> datetime | None:
    if run_after is None:
        return None
    if isinstance(run_after, timedelta):
        return now + run_after
    return run_after.astimezone(UTC)


def _delay_seconds(task_name: str, run_after: datetime | None, now: datetime) -> int:
    """Whole seconds from ``now`` to ``run_after``, rounded up; a time in the past is refused."""
    if run_after is None:
        return 0
    seconds = (run_after - now).total_seconds()
    if seconds < -RUN_AFTER_TOLERANCE_SECONDS:
        raise InvalidJobError(
            f"{task_name}: run_after {run_after.isoformat()} is {-seconds:,.1f} s in the past "
            f"(more than the {RUN_AFTER_TOLERANCE_SECONDS:g} s allowed for clock differences); "
            "omit run_after to run as soon as possible"
        )
    return max(0, math.ceil(seconds))


def _check_max_delay(job: PreparedJob, config: ClientConfig, delay: int) -> None:
    if delay > config.max_delay_seconds:
        raise InvalidJobError(
            f"{job.task.name}: run_after is {delay:,} s ({timedelta(seconds=delay)}) away, over "
            f"this {config.backend} backend's maximum delay of {config.max_delay_seconds:,} s "
            "(max_delay_seconds)"
        )


def _check_scheduler(job: PreparedJob, config: ClientConfig, delay: int, fifo: bool) -> None:
    """A delay that only a schedule can carry needs a configured scheduler."""
    if config.scheduler is not None:
        return
    if backend_of(config).invokes_function:
        why = "a Lamb backend delays every job through EventBridge Scheduler"
    elif fifo:
        why = (
            f"queue {job.task.queue_name!r} is FIFO and SQS FIFO queues take no per-message delay, "
            "so a delayed job goes through EventBridge Scheduler"
        )
    else:
        why = f"SQS delays a message at most {SQS_MAX_DELAY_SECONDS} s; longer waits go through "
        why += "EventBridge Scheduler"
    raise InvalidJobError(
        f"{job.task.name}: run_after is {delay:,} s away, but {why} and this backend's "
        'configuration has "scheduler": null; deploy it with a scheduler or drop run_after'
    )


def _receipt(item: Outgoing, now: datetime, config: ClientConfig) -> Job:
    from lambda_jobs.job import Job

    envelope = item.envelope
    return Job(
        id=envelope.id,
        task_name=envelope.task,
        queue_name=envelope.queue,
        priority=envelope.priority,
        enqueued_at=now,
        run_after=envelope.run_after,
        config=config,
    )
