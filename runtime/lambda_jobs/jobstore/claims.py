"""The worker half of the job store: claim a job before running it, record how it ended.

Only used when the function has ``LAMBDA_JOBS_JOB_TABLE``
(:data:`lambda_jobs.contract.JOB_TABLE_ENV`); without it :func:`from_env` returns None
and no DynamoDB client is ever created. The item schema and the conditions are described in
:mod:`lambda_jobs.jobstore.schema`.

:func:`claim` is one conditional ``UpdateItem`` that turns the job's item to ``running`` with
``attempt + 1`` and a lease, and tells the caller what to do (:class:`Claim`):

- ``run``: the claim holds; run as ``attempt`` (the store's count: a duplicate delivery does not
  use one up, an attempt whose lease ran out does);
- ``finished`` / ``cancelled``: the job already succeeded or failed / was cancelled; acknowledge it
  without running (log outcome ``skipped_duplicate`` / ``cancelled``);
- ``waiting``: the job waits for a scheduled retry and this delivery is not that retry (Lamb only,
  see *Which delivery is the retry* below); acknowledge it without running
  (``skipped_duplicate``): the retry's schedule brings the job back after its backoff;
- ``busy``: another attempt is running under a live lease (``lease_remaining`` seconds) held by
  another request id; do not start it twice (Goat lists it to come back after the lease, Lamb
  acknowledges it: the holder's own retries cover its crash);
- ``unavailable``: the store could not be reached (``error`` says why). The job runs anyway, as it
  would without the store: the queue, not the store, decides delivery.

**Which delivery is the retry** (Lamb: ``delivered_attempt`` given). Lambda's async queue may
hand one event over more than once ("How Lambda handles errors and retries with asynchronous
invocation"), so while a job is ``retrying`` a copy of an earlier delivery can arrive before the
retry's schedule fires. The two are told apart by the attempt the delivery carries against the
store's: the Lamb handler schedules a retry with the envelope's ``attempt`` set to the store's
attempt + 1, so only a delivery whose attempt is past the store's is the scheduled retry; a copy
of an earlier delivery carries the store's attempt or less and gets ``waiting``. One exception:
Lambda's own retry of the invocation that recorded ``retrying`` (it carries the same request id,
the item's ``lease_owner``) may claim it, because that invocation raised after recording it, when
its retry schedule could not be created, and no schedule will bring the job back. So a duplicate
never uses an attempt up and never starts a second retry chain. Goat passes no
``delivered_attempt``: its retry is the same SQS message coming back after its visibility
timeout, and any delivery may claim a ``retrying`` job.

**A claim sent twice.** A claim whose answer is lost (a 5xx after DynamoDB wrote it, a dropped
connection) is sent again: by botocore's retries, or by botocore after the direct path
(:mod:`lambda_jobs.jobstore.direct`) gave up on an answer. The copy would meet the item the first
copy wrote, ``running`` with this request id's lease, and take it again: one more attempt
counted (a job without retries then looks past its last attempt and is dead-lettered unrun).
So each claim writes a random ``claim_token`` and is refused by an item that carries its own
token; such a refusal is the claim's own write, and the job runs as the attempt it recorded.

:func:`finish` records the outcome on condition that the item still carries the claimed attempt
(a later claim, after this lease ran out, owns the item then); its failure is logged by the caller
and never changes what happens to the message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lambda_jobs.contract import JOB_TABLE_ENV, JOB_TTL_ENV
from lambda_jobs.jobstore import schema
from lambda_jobs.jobstore.direct import Direct, Refused
from lambda_jobs.jobstore.schema import n, s
from lambda_jobs.jsoncodec import wire_json, wire_size
from lambda_jobs.worker.words import BUSY, CANCELLED, FINISHED, RUN, UNAVAILABLE, WAITING

if TYPE_CHECKING:
    from types import EllipsisType

    from lambda_jobs.envelope import Envelope
    from lambda_jobs.worker.words import ClaimAction


class WorkerStore:
    """The function's job table; the DynamoDB client is made on first use."""

    __slots__ = ("_client", "_direct", "table", "ttl_seconds")

    def __init__(self, table: str, ttl_seconds: int) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds
        self._client: Any = None
        self._direct: Direct | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from lambda_jobs import aws

            # Every request of the worker half is built here from fixed expressions: botocore's
            # check of the parameters against the model is skipped (see aws.client).
            self._client = aws.client("dynamodb", None, validated=False)
        return self._client

    @property
    def direct(self) -> Direct:
        """The claim's and the outcome's ``UpdateItem`` without botocore's per-request work
        (:mod:`lambda_jobs.jobstore.direct`), on :attr:`client`'s endpoint."""
        if self._direct is None:
            self._direct = Direct(self.client)
        return self._direct

    def connect(self) -> None:
        """Make the client now (cold start); a failure is left for the first claim to report."""
        try:
            self.direct  # noqa: B018 - made for its side effect
        except Exception:  # the claim then says why, and the job runs without the store
            self._client = self._direct = None


def from_env(environ: Mapping[str, str]) -> WorkerStore | None:
    """The store named by ``LAMBDA_JOBS_JOB_TABLE``, or None (store off)."""
    table = environ.get(JOB_TABLE_ENV, "").strip()
    if not table:
        return None
    raw = environ.get(JOB_TTL_ENV, "").strip()
    try:
        ttl = int(raw) if raw else schema.DEFAULT_TTL_SECONDS
    except ValueError:
        ttl = schema.DEFAULT_TTL_SECONDS
    return WorkerStore(table, max(ttl, 1))


class Claim:
    """What :func:`claim` decided; see the module docstring for ``action``."""

    __slots__ = ("action", "attempt", "error", "lease_remaining", "release_key", "worker_index")

    def __init__(
        self,
        action: ClaimAction,
        *,
        attempt: int | None = None,
        lease_remaining: float = 0.0,
        error: str | None = None,
        worker_index: int | None = None,
        release_key: str | None = None,
    ) -> None:
        self.action = action
        self.attempt = attempt
        self.lease_remaining = lease_remaining
        self.error = error
        #: ``run``: the unique key the job's item holds and releases when the job finishes, if
        #: any (read from the claim's answer, so :func:`finish` need not ask for the item back).
        self.release_key = release_key
        #: ``run``: where the claim put this delivery's worker in the item's ``workers`` list
        #: (:func:`finish` takes it out again for a delivery that is refused unrun).
        self.worker_index = worker_index


_NAME = re.compile(r"#(\w+)")


def _names(*expressions: str) -> dict[str, str]:
    """``#name`` → ``name`` for every alias the expressions use (DynamoDB refuses unused ones)."""
    return {f"#{name}": name for e in expressions for name in _NAME.findall(e)}


def _aws_error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:500]}"


_CLAIM_UPDATE = (
    "SET #status = :running, #attempt = if_not_exists(#attempt, :zero) + :one, "
    "#started_at = :now_iso, #lease_until = :lease, #task = if_not_exists(#task, :task), "
    "#queue = if_not_exists(#queue, :queue), #enqueued_at = if_not_exists(#enqueued_at, :enq), "
    "#max_attempts = :max, #ttl = :ttl, #lease_owner = :owner, "
    "#workers = list_append(if_not_exists(#workers, :empty), :me), #claim_token = :token "
    "REMOVE #failed_task"
)
#: Never this claim's own write again (*A claim sent twice*, module docstring).
_NOT_MINE = " AND (attribute_not_exists(#claim_token) OR #claim_token <> :token)"
_CLAIM_CONDITION = (
    "(attribute_not_exists(#pk) OR #status IN (:enqueued, :retrying) "
    "OR (#status = :running AND (#lease_until < :now OR #lease_owner = :owner)))" + _NOT_MINE
)
#: With ``delivered_attempt`` (Lamb): a ``retrying`` job is claimed only by its scheduled retry,
#: or by Lambda's retry of the invocation that recorded ``retrying`` (module docstring).
_RETRY_CLAIM_CONDITION = (
    "(attribute_not_exists(#pk) OR #status = :enqueued "
    "OR (#status = :retrying AND (attribute_not_exists(#attempt) OR #attempt < :delivered "
    "OR #lease_owner = :owner)) "
    "OR (#status = :running AND (#lease_until < :now OR #lease_owner = :owner)))" + _NOT_MINE
)
#: Built once: what every claim sends unchanged (the request is otherwise rebuilt per job).
_CLAIM_NAMES = _names(_CLAIM_UPDATE, _CLAIM_CONDITION)
_RETRY_CLAIM_NAMES = _names(_CLAIM_UPDATE, _RETRY_CLAIM_CONDITION)
_CLAIM_CONSTANTS = {
    ":running": s(schema.RUNNING),
    ":enqueued": s(schema.ENQUEUED),
    ":retrying": s(schema.RETRYING),
    ":zero": n(0),
    ":one": n(1),
    ":empty": {"L": []},
}


def claim(
    store: WorkerStore,
    envelope: Envelope,
    *,
    max_attempts: int,
    lease_seconds: float,
    worker_id: str,
    delivered_attempt: int | None = None,
) -> Claim:
    """Claim ``envelope``'s job for one attempt of at most ``lease_seconds``; never raises.

    ``worker_id`` is the Lambda request id. Lambda retries a failed async event (a crash, a
    function timeout) with the same request id, so a claim by the same id takes over its own
    crashed attempt at once instead of waiting for the lease. ``delivered_attempt`` (Lamb: the
    attempt the delivery carries) lets only the scheduled retry claim a ``retrying`` job; any
    other delivery then gets ``waiting`` (module docstring).
    """
    now = schema.now_epoch()
    if not worker_id:
        import uuid

        worker_id = f"local-{uuid.uuid4()}"
    token = os.urandom(9).hex()
    values = {
        **_CLAIM_CONSTANTS,
        ":now": n(now),
        ":now_iso": s(schema.iso()),
        ":lease": n(now + lease_seconds + schema.LEASE_GRACE_SECONDS),
        ":task": s(envelope.task),
        ":queue": s(envelope.queue),
        ":enq": s(schema.iso(envelope.enqueued_at)),
        ":max": n(max_attempts),
        ":ttl": n(now + store.ttl_seconds),
        ":me": {"L": [s(worker_id)]},
        ":owner": s(worker_id),
        ":token": s(token),
    }
    if delivered_attempt is None:
        condition, names = _CLAIM_CONDITION, _CLAIM_NAMES
    else:
        condition, names = _RETRY_CLAIM_CONDITION, _RETRY_CLAIM_NAMES
        values[":delivered"] = n(delivered_attempt)
    try:
        direct = store.direct
        try:
            response = direct.update_item(
                {
                    "TableName": store.table,
                    "Key": {"pk": s(envelope.id)},
                    "UpdateExpression": _CLAIM_UPDATE,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                    # The whole item, not only what the claim set: its unique key tells finish()
                    # what to release without asking for the item back (one answer parsed).
                    "ReturnValues": "ALL_NEW",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            )
        except Refused as refused:
            old = refused.item
            if old is None:  # not every DynamoDB answers with the item: read it
                old = store.client.get_item(
                    TableName=store.table, Key={"pk": s(envelope.id)}, ConsistentRead=True
                ).get("Item", {})
            if old.get("claim_token") == values[":token"]:
                return _running(old)  # this claim's own write, its first answer lost
            return _refused(schema.decode_item(old), now)
    except Exception as exc:
        return Claim(UNAVAILABLE, error=_aws_error(exc))
    return _running(response["Attributes"])


def _running(attributes: dict[str, Any]) -> Claim:
    """``run``, as the item written by the claim (raw ``attributes``) says."""
    attempt = schema.decode(attributes["attempt"])
    workers = attributes.get("workers", {}).get("L", [])
    return Claim(
        RUN,
        attempt=int(attempt),
        worker_index=len(workers) - 1 if workers else None,
        release_key=schema.released_on_finish(schema.decode_item(_unique_of(attributes))),
    )


def _unique_of(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes :func:`schema.released_on_finish` reads, of a raw item."""
    return {key: attributes[key] for key in ("unique_key", "unique_release") if key in attributes}


def _refused(item: dict[str, Any], now: float) -> Claim:
    status = item.get("status")
    attempt = item.get("attempt")
    attempt = int(attempt) if isinstance(attempt, (int, float)) else None
    if status == schema.CANCELLED:
        return Claim(CANCELLED, attempt=attempt)
    if status == schema.RETRYING:  # only refused to a delivery that is not its retry
        return Claim(WAITING, attempt=attempt)
    if status == schema.RUNNING:
        lease = item.get("lease_until")
        remaining = float(lease) - now if isinstance(lease, (int, float)) else 0.0
        return Claim(BUSY, attempt=attempt, lease_remaining=max(remaining, 0.0))
    return Claim(FINISHED, attempt=attempt)


def finish(
    store: WorkerStore,
    job_id: str,
    *,
    attempt: int | None,
    status: str,
    task: str | None = None,
    value: Any = None,
    error_type: str | None = None,
    error_message: str = "",
    error: BaseException | None = None,
    unrun_worker: int | None = None,
    release_key: str | EllipsisType | None = ...,
) -> str | None:
    """Record how attempt ``attempt`` of ``job_id`` ended; returns None, or the store error text.

    ``status`` is succeeded (``value`` is stored as JSON if it fits, else as an error that says
    why), retrying or failed (with the error). ``attempt`` None writes unconditionally (a job that
    was never claimed: dead-lettered before running). A finished job releases its unique key when
    that key is released on completion.

    ``unrun_worker`` (with ``attempt``): the claim was refused after all, the attempt being past
    the last one (dead-lettered as ``IncompleteAttempts`` without running); the same write takes
    the claim's entry out of ``workers`` (at that index) and sets ``attempt`` back by one, so both
    count the attempts that really started (Django's ``attempts`` is ``len(worker_ids)``).

    ``release_key`` is the unique key the claim saw the item hold and release on completion (None:
    none), so the write asks for nothing back; left out (a job never claimed), the write returns
    the item and its key is read from it.
    """
    now = schema.now_epoch()
    values: dict[str, Any] = {":status": s(status)}
    sets = ["#status = :status"]
    removes = ["#lease_until"]
    if unrun_worker is not None and attempt is not None:
        sets.append("#attempt = :started")
        values[":started"] = n(attempt - 1)
        removes.append(f"#workers[{int(unrun_worker)}]")
    if status == schema.SUCCEEDED:
        result, why = encode_result(value)
        if result is not None:
            sets.append("#result = :result")
            values[":result"] = s(result)  # an earlier attempt's error stays: Django lists it
        else:
            error_type, error_message, error = schema.RESULT_NOT_STORED, str(why), None
    if error_type is not None:
        sets += [
            "#error_type = :error_type",
            "#error_message = :error_message",
            "#error_traceback = :error_traceback",
        ]
        values.update(schema.error_values(error_type, error_message, _traceback(error)))
    if status in schema.FINISHED:
        sets += ["#finished_at = :finished", "#ttl = :ttl"]
        values[":finished"] = s(schema.iso())
        values[":ttl"] = n(now + store.ttl_seconds)
    if status == schema.FAILED:
        sets.append("#failed_task = :failed_task")
        values[":failed_task"] = s(task or "unknown")
        if task:
            sets.append("#task = if_not_exists(#task, :failed_task)")
    update = f"SET {', '.join(sets)} REMOVE {', '.join(removes)}"
    kwargs: dict[str, Any] = {}
    condition = ""
    if attempt is not None:
        condition = "#attempt = :attempt"
        values[":attempt"] = n(attempt)
        kwargs["ConditionExpression"] = condition
    known = release_key is not ...
    try:
        try:
            response = store.direct.update_item(
                {
                    "TableName": store.table,
                    "Key": {"pk": s(job_id)},
                    "UpdateExpression": update,
                    "ExpressionAttributeNames": _names(update, condition),
                    "ExpressionAttributeValues": values,
                    "ReturnValues": "NONE" if known else "ALL_NEW",
                    **kwargs,
                }
            )
        except Refused:
            return f"attempt {attempt} no longer owns the job's item (a later claim took it over)"
        client = store.client
        if status in schema.FINISHED:
            if isinstance(release_key, str):
                schema.release_unique(client, store.table, release_key, job_id)
            elif not known:
                item = schema.decode_item(response.get("Attributes", {}))
                schema.release_after_finish(client, store.table, item)
    except Exception as exc:
        return _aws_error(exc)
    return None


def encode_result(value: Any) -> tuple[str | None, str | None]:
    """``(JSON text, None)`` if ``value`` is JSON within :data:`RESULT_MAX_BYTES`, else
    ``(None, why)``; never raises."""
    try:
        text = wire_json(value)
    except (TypeError, ValueError) as exc:
        return None, (
            f"the task returned a {type(value).__name__}, which is not JSON ({exc}); its return "
            "value was not stored"
        )
    size = wire_size(text)
    if size > schema.RESULT_MAX_BYTES:
        return None, (
            f"the task's return value is {size:,} bytes as JSON, over the job store's limit of "
            f"{schema.RESULT_MAX_BYTES:,} bytes; it was not stored (store large results "
            "elsewhere, e.g. S3, and return a reference)"
        )
    return text, None


def _traceback(error: BaseException | None) -> str | None:
    if error is None:
        return None
    from lambda_jobs.worker.deadletter import format_traceback

    return format_traceback(error)
