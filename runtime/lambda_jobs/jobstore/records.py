"""The client half of the job store: write the job item at enqueue, unique keys, look up, cancel.

Used only when the client configuration has ``job_store`` (see :mod:`lambda_jobs.jobstore.schema`
for the item schema and the conditions). Order at enqueue, so that the store observes and never
decides delivery:

1. **unique key** (if the job has one): taken with a conditional ``PutItem``; if a pending or
   running job holds it, that job is returned (``Job.existing`` is True) and nothing is sent;
2. **job item** written (status ``enqueued``) *before* the send, so a lookup right after
   ``enqueue`` returns always finds it;
3. **send** (SQS / Lambda / Scheduler, as without the store);
4. a send that was not confirmed (:class:`~lambda_jobs.errors.EnqueueError`) deletes the item if
   it is still ``enqueued`` and releases the key, then the error is raised as before. If AWS had in
   fact accepted the job, the worker's claim simply creates the item again.

If step 1 or 2 fails (DynamoDB unreachable, the table missing), nothing is sent and one
:class:`EnqueueError` names the jobs: retrying is safe.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_jobs.contract import FAILURES_INDEX
from lambda_jobs.errors import ConfigurationError, EnqueueError, JobStateError, UnknownJobError
from lambda_jobs.job import read_through
from lambda_jobs.jobstore import schema
from lambda_jobs.jobstore.schema import n, s

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig, JobStoreConfig
    from lambda_jobs.enqueue.outgoing import Outgoing
    from lambda_jobs.job import Job, PreparedJob

#: Parallel DynamoDB requests of one bulk enqueue.
MAX_PARALLEL_WRITES = 8


def store_of(config: ClientConfig) -> JobStoreConfig:
    """The configuration's job store; a backend without one is a clear error."""
    if config.job_store is None:
        raise ConfigurationError(
            f"this {config.backend} backend has no job store: deploy it with "
            "job_store=JobStore(...) to look up, cancel or deduplicate jobs"
        )
    return config.job_store


def _client(config: ClientConfig) -> Any:
    from lambda_jobs import aws

    return aws.client("dynamodb", config)


# -- enqueue -------------------------------------------------------------------------------------


def register(
    prepared: list[PreparedJob], outgoing: list[Outgoing], config: ClientConfig
) -> dict[str, Job]:
    """Take unique keys and write the job items; returns ``{job id: existing job}`` for the jobs
    that a pending job's unique key replaces (they must not be sent). Raises ``EnqueueError``."""
    store = store_of(config)
    client = _client(config)
    pairs = list(zip(prepared, outgoing, strict=True))

    def one(pair: tuple[PreparedJob, Outgoing]) -> Job | None:
        job, item = pair
        # The job item first: a unique key then always names a job whose item exists, so another
        # enqueue finding the key held never mistakes a holder still being written for one whose
        # item expired (and takes the key over: two jobs sent for one key).
        _put_job(client, store, job, item)
        if job.task.unique_key is not None:
            holder = _take_unique(client, store, job, config)
            if holder is not None:
                forget([job], [job.id], config)  # never sent: its item goes
                return holder
        return None

    from lambda_jobs.aws import aws_errors

    errors = aws_errors()
    existing: dict[str, Job] = {}
    failed: dict[str, str] = {}
    if len(pairs) == 1:
        results = [_attempt(one, pairs[0], errors)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_WRITES, len(pairs))) as pool:
            results = list(pool.map(lambda pair: _attempt(one, pair, errors), pairs))
    for (job, _item), (holder, error) in zip(pairs, results, strict=True):
        if error is not None:
            failed[job.id] = error
        elif holder is not None:
            existing[job.id] = holder
    if failed:
        written = [job.id for job in prepared if job.id not in existing]  # failed ones may be too
        forget(prepared, written, config)
        first_id, first = next(iter(failed.items()))
        raise EnqueueError(
            f"{len(failed)} of {len(prepared)} jobs could not be written to the job store "
            f"{store.table!r}, so none was sent; first error, job {first_id}: {first}",
            job_ids=[job.id for job in prepared],
            errors=failed,
        )
    return existing


def _attempt(
    fn: Any, pair: tuple[PreparedJob, Outgoing], errors: tuple[type[Exception], ...]
) -> tuple[Job | None, str | None]:
    try:
        return fn(pair), None
    except errors as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _put_job(client: Any, store: JobStoreConfig, job: PreparedJob, item: Outgoing) -> None:
    envelope = item.envelope
    now = schema.now_epoch()
    values: dict[str, Any] = {
        "pk": s(envelope.id),
        "task": s(envelope.task),
        "queue": s(envelope.queue),
        "priority": n(envelope.priority),
        "status": s(schema.ENQUEUED),
        "attempt": n(0),
        "enqueued_at": s(schema.iso(envelope.enqueued_at)),
        "ttl": n(schema.item_ttl(now, envelope.run_after, store.ttl_seconds)),
    }
    if envelope.run_after is not None:
        values["run_after"] = s(schema.iso(envelope.run_after))
    task = job.task
    if task.unique_key is not None:
        values["unique_key"] = s(task.unique_key)
        values["unique_release"] = s(task.unique_until)
    # The same prepared job enqueued again (after an EnqueueError): its item stands.
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=store.table,
            Item=values,
            ConditionExpression="attribute_not_exists(pk)",
        )


def _take_unique(
    client: Any, store: JobStoreConfig, job: PreparedJob, config: ClientConfig
) -> Job | None:
    """Take the job's unique key; None if taken, else the job holding it."""
    task = job.task
    assert task.unique_key is not None and task.unique_for is not None
    key = {"pk": s(schema.unique_pk(task.unique_key))}
    for _ in range(3):
        now = schema.now_epoch()
        expires = now + task.unique_for
        item = {**key, "job_id": s(job.id), "expires_at": n(expires), "ttl": n(expires)}

        def put(condition: str, values: dict[str, Any], item: dict[str, Any] = item) -> bool:
            try:
                client.put_item(
                    TableName=store.table,
                    Item=item,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
            except client.exceptions.ConditionalCheckFailedException:
                return False
            return True

        if put("attribute_not_exists(pk) OR expires_at < :now", {":now": n(now)}):
            return None
        held = client.get_item(TableName=store.table, Key=key, ConsistentRead=True).get("Item")
        if held is None:
            continue  # released meanwhile: try again
        holder_id = str(schema.decode(held["job_id"]))
        holder = read(client, store, holder_id)
        finished = holder is None or holder.get("status") in schema.FINISHED
        if holder is not None and holder.get("unique_release") == schema.RELEASE_EXPIRED:
            finished = False  # held until it expires, whatever the job did
        if not finished:
            assert holder is not None
            found = to_job(holder, config)
            found.existing = True
            return found
        # The holder finished but its release was lost (or its item expired): take the key over.
        if put("job_id = :holder", {":holder": s(holder_id)}):
            return None
    raise EnqueueError(
        f"{task.name}: unique key {task.unique_key!r} changed hands three times while taking it; "
        "try again",
        job_ids=[job.id],
    )


def forget(prepared: list[PreparedJob], job_ids: list[str], config: ClientConfig) -> None:
    """After an unconfirmed send: delete those still-``enqueued`` items, release their keys.

    Best effort: a failure here leaves an ``enqueued`` item that expires with its TTL (and that a
    late delivery would claim normally).
    """
    if not job_ids or config.job_store is None:
        return
    store = config.job_store
    client = _client(config)
    wanted = set(job_ids)
    for job in prepared:
        if job.id not in wanted:
            continue
        try:
            client.delete_item(
                TableName=store.table,
                Key={"pk": s(job.id)},
                ConditionExpression="#status = :enqueued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":enqueued": s(schema.ENQUEUED)},
            )
            if job.task.unique_key is not None:
                schema.release_unique(client, store.table, job.task.unique_key, job.id)
        except Exception:  # best effort, see the docstring
            continue


# -- look up and cancel ----------------------------------------------------------------------------


def read(client: Any, store: JobStoreConfig, job_id: str) -> dict[str, Any] | None:
    """The job item as plain values (strongly consistent), or None."""
    found = client.get_item(TableName=store.table, Key={"pk": s(job_id)}, ConsistentRead=True)
    item = found.get("Item")
    return None if item is None else schema.decode_item(item)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


#: DynamoDB's longest partition key value, in bytes ("Constraints in Amazon DynamoDB",
#: docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html).
MAX_KEY_BYTES = 2048


def _possible_id(job_id: object) -> bool:
    """False for what no job item can have as its key (DynamoDB would refuse the request)."""
    return isinstance(job_id, str) and 0 < len(job_id.encode("utf-8", "replace")) <= MAX_KEY_BYTES


def _recorded(value: Any) -> str | None:
    """An ``error_*`` text, or None for the store's placeholder ``"-"`` (nothing recorded)."""
    return value if isinstance(value, str) and value != "-" else None


def to_job(item: dict[str, Any], config: ClientConfig) -> Job:
    """The :class:`~lambda_jobs.job.Job` a job item describes."""
    import json

    from lambda_jobs.job import Job, JobStatus

    error_type = item.get("error_type")
    message = item.get("error_message")
    result = item.get("result")
    attempt = item.get("attempt", 0)
    priority = item.get("priority", 0)
    job = Job(
        id=str(item["pk"]),
        task_name=str(item.get("task", "")),
        queue_name=str(item.get("queue", "")),
        priority=int(priority) if isinstance(priority, (int, float)) else 0,
        enqueued_at=_time(item.get("enqueued_at")) or datetime.now(UTC),
        run_after=_time(item.get("run_after")),
        status=JobStatus(item.get("status", schema.ENQUEUED)),
        attempts=int(attempt) if isinstance(attempt, (int, float)) else 0,
        return_value=json.loads(result) if isinstance(result, str) else None,
        error=(f"{error_type}: {message}" if message else str(error_type)) if error_type else None,
        error_type=error_type if isinstance(error_type, str) else None,
        error_message=message if isinstance(message, str) else None,
        error_traceback=_recorded(item.get("error_traceback")),
        started_at=_time(item.get("started_at")),
        finished_at=_time(item.get("finished_at")),
        unique_key=item.get("unique_key"),
        worker_ids=[str(w) for w in item.get("workers", [])],
        config=config,
    )
    return job


def _config(config: ClientConfig | None) -> ClientConfig:
    if config is not None:
        return config
    from lambda_jobs import config as config_module

    return config_module.load()


def get_job(job_id: str, config: ClientConfig | None = None) -> Job:
    """The job ``job_id`` as the store has it now; an unknown id raises :class:`UnknownJobError`."""
    config = _config(config)
    store = store_of(config)
    if not _possible_id(job_id):
        raise UnknownJobError(
            f"no job {job_id!r} in the job store {store.table!r}: a job id is a non-empty string "
            f"of at most {MAX_KEY_BYTES:,} bytes"
        )
    item = read(_client(config), store, job_id)
    if item is None:
        raise UnknownJobError(
            f"no job {job_id!r} in the job store {store.table!r}: the id is wrong, or the job "
            f"finished more than {store.ttl_seconds:,} s ago (the store's ttl, counted from its "
            "end, never before its run_after) and its item expired"
        )
    return to_job(item, config)


read_through(get_job)  # what Job.refresh reads through (lambda_jobs.job imports no store module)


def cancel_job(job_id: str, config: ClientConfig | None = None) -> Job:
    """Cancel ``job_id`` if it has not started (enqueued, or waiting for its next attempt).

    The item becomes ``cancelled`` (its ``ttl`` no earlier than ``run_after`` plus the store's
    ttl, so it outlives any delivery still on its way), then the job's pending one-time schedule,
    if it has one (a delay carried by EventBridge Scheduler, a Lamb retry), is deleted
    (``scheduler:DeleteSchedule``, granted by ``grant_enqueue``). A delivery that still arrives
    (SQS's own delay, a schedule that fired meanwhile) is acknowledged by the worker without
    running. A running or finished job raises :class:`~lambda_jobs.errors.JobStateError` saying
    which; an unknown id ``UnknownJobError``.
    """
    config = _config(config)
    store = store_of(config)
    client = _client(config)
    before = read(client, store, job_id)
    now = schema.now_epoch()
    run_after = _time(before.get("run_after")) if before is not None else None
    try:
        response = client.update_item(
            TableName=store.table,
            Key={"pk": s(job_id)},
            UpdateExpression="SET #status = :cancelled, finished_at = :now, #ttl = :ttl",
            ConditionExpression="#status IN (:enqueued, :retrying)",
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":cancelled": s(schema.CANCELLED),
                ":enqueued": s(schema.ENQUEUED),
                ":retrying": s(schema.RETRYING),
                ":now": s(schema.iso()),
                ":ttl": n(schema.item_ttl(now, run_after, store.ttl_seconds)),
            },
            ReturnValues="ALL_NEW",
        )
    except client.exceptions.ConditionalCheckFailedException:
        current = get_job(job_id, config)  # raises UnknownJobError for a missing item
        if current.status == "running":
            raise JobStateError(
                f"job {job_id} ({current.task_name}) is running (attempt {current.attempts}, "
                f"started {current.started_at}); a running job cannot be cancelled"
            ) from None
        raise JobStateError(
            f"job {job_id} ({current.task_name}) is already {current.status}; only a job that "
            "has not started (enqueued or waiting to retry) can be cancelled"
        ) from None
    item = schema.decode_item(response["Attributes"])
    schema.release_after_finish(client, store.table, item)
    if before is not None and _has_schedule(config, before, run_after):
        _delete_schedule(config, job_id, before)
    return to_job(item, config)


def _has_schedule(config: ClientConfig, before: dict[str, Any], run_after: datetime | None) -> bool:
    """Whether a one-time schedule may carry the job's next delivery (the client's own rule).

    A Lamb retry, any Lamb delay, any delay on a FIFO lane and a Goat delay over 900 s are
    schedules; a shorter Goat delay is SQS's, with no schedule to delete.
    """
    if config.scheduler is None:
        return False
    from lambda_jobs.backends import backend_of

    lamb = backend_of(config).invokes_function
    if before.get("status") == schema.RETRYING:
        return lamb  # Goat waits out a retry's backoff in SQS
    if run_after is None:
        return False
    if lamb:
        return True
    queue = config.queues.get(str(before.get("queue", "")))
    enqueued = _time(before.get("enqueued_at"))
    if queue is None or enqueued is None:
        return True  # not known: look
    from lambda_jobs.contract import SQS_MAX_DELAY_SECONDS

    # The stored times keep milliseconds, the client rounded the delay up: near 900 s, look.
    return queue.fifo or (run_after - enqueued).total_seconds() > SQS_MAX_DELAY_SECONDS - 1


def _delete_schedule(config: ClientConfig, job_id: str, before: dict[str, Any]) -> None:
    """Delete the one-time schedule of the job's next attempt, if there is one.

    Best effort: the job is cancelled already, and the worker acknowledges a delivery of a
    cancelled job without running it (the item lives until then, see :func:`cancel_job`); what
    failing to delete leaves is a firing that costs one invocation and a schedule that ``status``
    counts until it fires. So an AWS refusal (a grant from before ``DeleteSchedule`` was granted)
    is a warning, not an error.
    """
    assert config.scheduler is not None  # _has_schedule
    from lambda_jobs import aws
    from lambda_jobs.aws import aws_errors
    from lambda_jobs.scheduling import one_time

    attempt = before.get("attempt", 0)
    next_attempt = (int(attempt) if isinstance(attempt, (int, float)) else 0) + 1
    try:
        one_time.delete(
            aws.client("scheduler", config),
            job_id=job_id,
            attempt=next_attempt,
            group=config.scheduler.group,
        )
    except aws_errors() as exc:
        import logging

        logging.getLogger("lambda_jobs").warning(
            "job %s is cancelled, but its schedule %s could not be deleted (%s: %s); the worker "
            "will acknowledge its delivery without running it",
            job_id,
            one_time.schedule_name(job_id, next_attempt),
            type(exc).__name__,
            exc,
        )


#: When a redrive may set a job's item back to ``enqueued``: no delivery of the job can be live.
REQUEUE_CONDITION = (
    "attribute_not_exists(pk) OR #status = :failed "
    "OR (#status = :running AND #lease_until < :now) "
    "OR (#status = :enqueued AND (attribute_not_exists(#redrive_of) OR #redrive_of = :entry))"
)


def requeue(envelope: Any, config: ClientConfig, *, redrive_of: str) -> dict[str, Any] | None:
    """Before a redrive sends ``envelope`` again: mark its job ``enqueued`` at attempt 0.

    Without it the worker would see the job ``failed`` and skip the copy as a duplicate. The write
    is conditional (:data:`REQUEUE_CONDITION`): the item is missing (expired), ``failed``,
    ``running`` with a lease that has run out (a crashed attempt: the crash safety net moved it),
    or ``enqueued`` and not by an earlier redrive (a crash before the first claim), or by this same
    DLQ entry ``redrive_of`` (a rerun after an interrupted redrive). A job that is running,
    waiting to retry, already sent back by another entry's redrive, succeeded or cancelled raises
    :class:`JobStateError` saying which: a copy of it is live or it ran, so the entry must not
    run it again. The last error is kept; the job leaves the failures index.

    Returns the item as it was (DynamoDB's attribute values; None if there was none), for
    :func:`restore` when the send fails. Raises AWS errors: the caller then does not send.
    """
    store = store_of(config)
    client = _client(config)
    update = (
        "SET #status = :enqueued, #attempt = :zero, #task = if_not_exists(#task, :task), "
        "#queue = if_not_exists(#queue, :queue), #ttl = :ttl, #redrive_of = :entry "
        "REMOVE #lease_until, #lease_owner, #failed_task, #finished_at, #workers"
    )
    names = {
        f"#{name}": name
        for name in (
            "status",
            "attempt",
            "task",
            "queue",
            "ttl",
            "lease_until",
            "lease_owner",
            "failed_task",
            "finished_at",
            "workers",
            "redrive_of",
        )
    }
    try:
        response = client.update_item(
            TableName=store.table,
            Key={"pk": s(envelope.id)},
            UpdateExpression=update,
            ConditionExpression=REQUEUE_CONDITION,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":enqueued": s(schema.ENQUEUED),
                ":failed": s(schema.FAILED),
                ":running": s(schema.RUNNING),
                ":now": n(schema.now_epoch()),
                ":entry": s(redrive_of),
                ":zero": n(0),
                ":task": s(envelope.task),
                ":queue": s(envelope.queue),
                ":ttl": n(schema.now_epoch() + store.ttl_seconds),
            },
            ReturnValues="ALL_OLD",
        )
    except client.exceptions.ConditionalCheckFailedException:
        current = read(client, store, envelope.id) or {}
        raise JobStateError(f"job {envelope.id} {_live_because(current)}") from None
    old = response.get("Attributes")
    return dict(old) if old else None


def requeue_refusal(job_id: str, config: ClientConfig, *, redrive_of: str) -> str | None:
    """What :func:`requeue` would answer now, without writing (a dry run): None when it would set
    the job back, else why not, as its :class:`JobStateError` says. One strongly consistent
    ``GetItem``; the same rule as :data:`REQUEUE_CONDITION`. Raises AWS errors."""
    store = store_of(config)
    item = read(_client(config), store, job_id)
    if item is None:
        return None
    status = item.get("status")
    lease_until = item.get("lease_until")
    if (
        status == schema.FAILED
        or (
            status == schema.RUNNING
            and lease_until is not None
            and lease_until < schema.now_epoch()
        )
        or (status == schema.ENQUEUED and item.get("redrive_of") in (None, redrive_of))
    ):
        return None
    return f"job {job_id} {_live_because(item)}"


def _live_because(item: dict[str, Any]) -> str:
    """Why a redrive must not set the job ``item`` back to enqueued (see :func:`requeue`)."""
    status = item.get("status")
    if status == schema.RUNNING:
        return f"is running (attempt {item.get('attempt')}, its lease has not run out)"
    if status == schema.ENQUEUED:
        return (
            f"was already sent back by the redrive of DLQ entry {item.get('redrive_of')} and has "
            "not run yet"
        )
    if status == schema.RETRYING:
        return "is waiting for its next attempt (a retry of it is pending)"
    if status == schema.SUCCEEDED:
        return f"already succeeded (finished {item.get('finished_at')}) after this entry failed"
    if status == schema.CANCELLED:
        return "was cancelled"
    return f"is {status}"


def restore(
    job_id: str, previous: dict[str, Any] | None, config: ClientConfig, *, redrive_of: str
) -> None:
    """Undo :func:`requeue` after its send failed: put back the item as it was (or delete the one
    requeue created), if it is still ``enqueued`` by this redrive. Raises AWS errors."""
    store = store_of(config)
    client = _client(config)
    condition = {
        "ConditionExpression": "#status = :enqueued AND #redrive_of = :entry",
        "ExpressionAttributeNames": {"#status": "status", "#redrive_of": "redrive_of"},
        "ExpressionAttributeValues": {
            ":enqueued": s(schema.ENQUEUED),
            ":entry": s(redrive_of),
        },
    }
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        if previous is None:
            client.delete_item(TableName=store.table, Key={"pk": s(job_id)}, **condition)
        else:
            client.put_item(TableName=store.table, Item=previous, **condition)


#: What the ``failures`` index projects (keys included): all that :func:`failures` returns.
FAILURE_FIELDS = ("pk", "task", "queue", "status", "attempt", "finished_at")
FAILURE_ERROR_FIELDS = ("error_type", "error_message")


def failures(task: str, config: ClientConfig, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest ``limit`` failed jobs of ``task``, newest first (the sparse ``failures`` index).

    Each is the index's projection, decoded (:data:`FAILURE_FIELDS` and the error): nothing the
    index does not hold is filled in (``jobs show ID`` reads the whole item). Needs
    ``dynamodb:Query`` on the index (``grant_read_jobs``). The index is eventually consistent: a
    job that failed a moment ago may not be listed yet.
    """
    store = store_of(config)
    response = _client(config).query(
        TableName=store.table,
        IndexName=FAILURES_INDEX,
        KeyConditionExpression="failed_task = :task",
        ExpressionAttributeValues={":task": s(task)},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [schema.decode_item(item) for item in response.get("Items", [])]
