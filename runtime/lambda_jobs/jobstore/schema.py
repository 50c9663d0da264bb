"""The job store: one DynamoDB table per backend that records each job's status and result.

Optional (the constructs' ``job_store=JobStore(...)`` prop). With it off there is no table, no
``job_store`` key in the client configuration and no ``LAMBDA_JOBS_JOB_TABLE`` in the function, and
nothing in the runtime makes a DynamoDB call. This module is the design both halves share; the
client half is :mod:`lambda_jobs.jobstore.records` (write at enqueue, look up, cancel, unique keys),
the worker half :mod:`lambda_jobs.jobstore.claims` (claim before running, record the outcome).

**The store observes, the queue delivers.** SQS (Goat) and Lambda's async queue (Lamb) stay the one
source of truth for *whether* a job runs; the store only decides that a delivery which is a known
duplicate is not run twice, and records what happened. A job whose item is missing (never written,
or expired) still runs: the worker's claim creates the item.

Item schema (partition key ``pk``, a string; no sort key)::

    job item        pk = <job id>                       (a UUID, never starts with "unique#")
      task, queue           S   the task name and logical queue
      priority              N   the job's priority (written at enqueue)
      run_after             S   ISO 8601 UTC, when the job was delayed (written at enqueue)
      status                S   enqueued | running | retrying | succeeded | failed | cancelled
      attempt               N   attempts started so far (0 until the first claim)
      max_attempts          N   1 + retries, as the worker resolved them
      enqueued_at, started_at, finished_at
                            S   ISO 8601 UTC, milliseconds (started_at: the last attempt)
      lease_until           N   epoch seconds; only while running: the claim's lease
      lease_owner           S   the Lambda request id holding the lease
      workers               L   the Lambda request id of each attempt (Django's worker_ids)
      claim_token           S   random, written by each claim: the claim's copy sent again
                                (its first answer lost) knows its own write (claims module)
      result                S   the JSON text of the return value, at most RESULT_MAX_BYTES
      error_type, error_message, error_traceback
                            S   the last error, cut to ERROR_MESSAGE_MAX / TRACEBACK_MAX chars
                                (kept when a later attempt succeeds: Django lists it)
      failed_task           S   = task, only when status is failed: the sparse index's key
      unique_key, unique_release
                            S   the job's unique key and "executed" | "expired" (if any)
      redrive_of            S   the DLQ message id of the ``dlq redrive`` that last set the job
                                back to enqueued (its condition: ``enqueue.store.requeue``)
      ttl                   N   epoch seconds when DynamoDB may delete the item: the later of
                                enqueue time and run_after, + ttl_seconds (:func:`item_ttl`: a
                                delayed job's item outlives its delay, so a cancel lasts and a
                                lookup finds it); moved to finish time + ttl_seconds when it
                                ends (a cancel: never before run_after + ttl_seconds)

    unique-key item pk = "unique#" + <key>
      job_id                S   the job holding the key
      expires_at            N   epoch seconds: the key is free after this, whatever happened
      ttl                   N   = expires_at (DynamoDB's cleanup)

Index ``failures`` (GSI, :data:`FAILURES_INDEX`): partition key ``failed_task``, sort key
``finished_at``, projection of the error attributes. Sparse: only failed jobs carry
``failed_task``, so the index holds (and costs) nothing else; ``lambda-jobs jobs failures TASK``
queries it newest first.

Conditional writes decide every transition (DynamoDB evaluates a ``ConditionExpression`` on the
item's current state and refuses the write if it is false: "Condition expressions", DynamoDB
Developer Guide, docs.aws.amazon.com/amazondynamodb/latest/developerguide/
Expressions.ConditionExpressions.html):

- enqueue: ``PutItem`` if ``attribute_not_exists(pk)``;
- claim: ``UpdateItem`` to running, attempt + 1, if the item is missing, enqueued or retrying,
  or running with ``lease_until < now`` (a crashed attempt's lease has run out) or with
  ``lease_owner`` = this request id (Lambda retries a crashed async event under the same request
  id: AWS Knowledge Center, "lambda-function-duplicate-invocations"), and the item does not
  carry this claim's own ``claim_token`` (a copy of it sent again: ``claims`` module);
- finish: ``UpdateItem`` if ``attempt`` is still the claimed one (a later claim wins);
- cancel: ``UpdateItem`` to cancelled if enqueued or retrying;
- redrive: ``UpdateItem`` back to enqueued if missing, failed, running with ``lease_until < now``,
  or enqueued and not by another DLQ entry's redrive (``redrive_of``);
- unique key: ``PutItem`` if ``attribute_not_exists(pk) OR expires_at < now``.

DynamoDB's TTL deletes expired items in the background, typically within a few days, and until
then they are still read and written ("Working with expired items and time to live (TTL)",
docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html). So no condition
relies on deletion: every one compares ``expires_at`` / ``lease_until`` with now itself.

Bounds: an item is at most 400 KB including attribute names ("Constraints in Amazon DynamoDB",
docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html; sizes per "DynamoDB
item sizes and formats", .../CapacityUnitCalculations.html). A result is kept to
:data:`RESULT_MAX_BYTES` (64 KiB) and the error to a few KiB, so an item stays far below it and a
write costs at most 65 write units; a larger or non-JSON return value is stored as an error that
says so (``lambda_jobs.ResultNotStored``) while the job still counts as succeeded.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

DEFAULT_TTL_SECONDS = 7 * 24 * 3600

UNIQUE_PREFIX = "unique#"

ENQUEUED = "enqueued"
RUNNING = "running"
RETRYING = "retrying"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
#: The status an attempt's outcome (its log line's ``outcome``) leaves the job in.
STATUS_OF_OUTCOME = {"succeeded": SUCCEEDED, "retrying": RETRYING, "dead_lettered": FAILED}

RESULT_MAX_BYTES = 64 * 1024
ERROR_MESSAGE_MAX = 2000
TRACEBACK_MAX = 8000
RESULT_NOT_STORED = "lambda_jobs.ResultNotStored"

RELEASE_EXECUTED = "executed"
"""The unique key is released when the job finishes (succeeded, failed or cancelled)."""
RELEASE_EXPIRED = "expired"
"""The unique key is held until ``unique_for`` has passed, whatever the job did."""
RELEASES = (RELEASE_EXECUTED, RELEASE_EXPIRED)

LEASE_GRACE_SECONDS = 5.0
"""Added to an attempt's time limit: the lease outlives the attempt by this much."""


def now_epoch() -> float:
    return time.time()


def item_ttl(now: float, run_after: datetime | None, ttl_seconds: int) -> float:
    """An item's ``ttl``: ``ttl_seconds`` after ``now`` or after ``run_after``, whichever is later.

    A job delayed past the store's ttl would otherwise lose its item before it runs: a lookup
    would call it unknown, and a cancelled job's item could expire before its delivery arrives.
    """
    if run_after is None or run_after.timestamp() <= now:
        return now + ttl_seconds
    # From run_after cut to the milliseconds the item keeps of it, then past that millisecond and
    # rounded up to a second: the same ttl from the envelope's run_after (enqueue) and from the
    # item's (cancel), and never before the exact run_after.
    kept = run_after.replace(microsecond=run_after.microsecond // 1000 * 1000)
    return math.ceil(kept.timestamp() + 0.001) + ttl_seconds


def iso(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with milliseconds: sortable as text (the index's sort key)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    return {"N": str(int(value)) if float(value).is_integer() else f"{value:.3f}"}


def decode(value: dict[str, Any]) -> Any:
    """One DynamoDB attribute value as plain Python (the kinds this table uses)."""
    if "S" in value:
        return value["S"]
    if "N" in value:
        text = value["N"]
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if "L" in value:
        return [decode(item) for item in value["L"]]
    if "M" in value:
        return {key: decode(item) for key, item in value["M"].items()}
    if "BOOL" in value:
        return bool(value["BOOL"])
    return None


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: decode(value) for key, value in item.items()}


def unique_pk(key: str) -> str:
    return UNIQUE_PREFIX + key


def release_unique(client: Any, table: str, key: str, job_id: str) -> None:
    """Free ``key`` if ``job_id`` still holds it (a newer holder keeps it). Raises AWS errors."""
    import contextlib

    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        client.delete_item(
            TableName=table,
            Key={"pk": s(unique_pk(key))},
            ConditionExpression="job_id = :job",
            ExpressionAttributeValues={":job": s(job_id)},
        )


def released_on_finish(item: dict[str, Any]) -> str | None:
    """The unique key of the (decoded) job ``item`` if it is released on completion, else None."""
    key = item.get("unique_key")
    if isinstance(key, str) and item.get("unique_release", RELEASE_EXECUTED) == RELEASE_EXECUTED:
        return key
    return None


def release_after_finish(client: Any, table: str, item: dict[str, Any]) -> None:
    """Release the unique key of a finished job item if it is released on completion."""
    key = released_on_finish(item)
    if key is not None:
        release_unique(client, table, key, str(item["pk"]))


def error_values(error_type: str, message: str, traceback_text: str | None) -> dict[str, Any]:
    """The ``error_*`` attribute values, each cut to its bound."""
    values = {
        ":error_type": s(error_type[:256] or "Error"),
        ":error_message": s(message[:ERROR_MESSAGE_MAX] or "-"),
    }
    tail = (traceback_text or "")[-TRACEBACK_MAX:]
    values[":error_traceback"] = s(tail or "-")
    return values
