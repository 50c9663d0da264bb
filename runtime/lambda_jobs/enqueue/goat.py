"""Goat enqueue: jobs go to the lane's SQS queue, or to a one-time schedule that sends them there.

- No delay, or a delay of at most 900 s on a standard queue: ``SendMessage`` (one job) or
  ``SendMessageBatch`` (bulk), with ``DelaySeconds``.
- A longer delay, or any delay on a FIFO lane (SQS FIFO has no per-message delay): an EventBridge
  Scheduler one-time schedule targeting the queue ARN
  (:func:`lambda_jobs.scheduling.one_time.create`).
- FIFO lanes: ``MessageGroupId`` is the task's ``message_group_id`` (default: the task name) and
  ``MessageDeduplicationId`` the job id, so a resent job is dropped by SQS within its 5-minute
  deduplication window. Scheduled FIFO deliveries carry the group id; SQS Scheduler targets cannot
  set a deduplication id, so FIFO lanes need ``ContentBasedDeduplication`` (the envelope holds the
  job id, so content-based deduplication is per job).
- Standard lanes: a job's ``tenant`` (``Task.using(tenant=...)``) is its ``MessageGroupId``, which
  makes SQS fair queues serve quiet tenants ahead of a noisy one ("Amazon SQS fair queues"); it
  goes with ``DelaySeconds`` as usual. No deduplication id is sent to a standard queue.

Bulk: entries are grouped by lane, up to 10 (and 1 MiB of bodies) per ``SendMessageBatch``
request, requests run in parallel —
except a FIFO lane's batches, which go one after the other in input order, and stop at the first
refused entry (sending later jobs of the lane past a gap would break the order). Entries SQS
reports in ``Failed`` with ``SenderFault: false`` are retried up to :data:`BATCH_ATTEMPTS` times
with a short backoff; the rest are reported in the :class:`~lambda_jobs.errors.EnqueueError`.
Message bodies are self-contained envelopes; no message attributes are sent.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from lambda_jobs.aws import aws_errors
from lambda_jobs.enqueue.client import enqueue_jobs
from lambda_jobs.enqueue.outgoing import (
    Outgoing,
    Request,
    SendOutcome,
    raise_failures,
    run_requests,
    schedule_requests,
)
from lambda_jobs.jsoncodec import wire_size

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.job import Job, PreparedJob

#: SQS's limit of entries per ``SendMessageBatch``.
BATCH_SIZE = 10
#: Bodies of one ``SendMessageBatch`` together stay within this: SQS's limit on a batch request's
#: messages together, 1 MiB ("Amazon SQS batch actions").
BATCH_MAX_BYTES = 1024 * 1024
#: Sends of one batch's rejected entries: the first plus retries.
BATCH_ATTEMPTS = 4
#: Wait before the first retry of rejected entries, doubled each retry.
BATCH_RETRY_BASE_SECONDS = 0.1


def send(outgoing: list[Outgoing], config: ClientConfig, single: bool = False) -> None:
    """Send every job of ``outgoing``; raise one EnqueueError naming any job not accepted.

    ``single`` uses ``SendMessage`` for a lone job (``Task.enqueue``); otherwise direct sends go
    through ``SendMessageBatch``.
    """
    from lambda_jobs import aws

    requests: list[Request] = []
    direct = [item for item in outgoing if not item.via_scheduler]
    if direct:
        sqs = aws.client("sqs", config)
        if single and len(direct) == 1:
            item = direct[0]
            requests.append(Request([item.job_id], partial(_send_message, sqs, item)))
        else:
            requests.extend(_batch_requests(sqs, direct))
    requests.extend(schedule_requests(outgoing, config, lamb=False))
    raise_failures(outgoing, run_requests(requests), "goat")


def _send_message(sqs: Any, item: Outgoing) -> SendOutcome:
    kwargs = _message_fields(item)
    sqs.send_message(QueueUrl=item.lane.target, **kwargs)
    return SendOutcome(sent=[item.job_id])


def _message_fields(item: Outgoing) -> dict[str, Any]:
    """``MessageBody`` plus the FIFO ids, or the tenant and delay, as SendMessage and batch
    entries want."""
    fields: dict[str, Any] = {"MessageBody": item.body}
    if item.message_group_id is not None:
        fields["MessageGroupId"] = item.message_group_id
    if item.fifo:
        fields["MessageDeduplicationId"] = item.job_id
    elif item.delay_seconds:
        fields["DelaySeconds"] = item.delay_seconds
    return fields


def _batch_requests(sqs: Any, items: list[Outgoing]) -> list[Request]:
    """Requests of up to 10 entries per lane; a FIFO lane's batches form one ordered request."""
    by_lane: dict[str, list[Outgoing]] = {}
    for item in items:
        by_lane.setdefault(item.lane.target, []).append(item)
    requests: list[Request] = []
    for lane_items in by_lane.values():
        chunks = batches(lane_items)
        if lane_items[0].fifo:
            ids = [item.job_id for item in lane_items]
            requests.append(Request(ids, partial(_send_in_order, sqs, chunks)))
        else:
            for chunk in chunks:
                ids = [item.job_id for item in chunk]
                requests.append(Request(ids, partial(send_batch, sqs, chunk)))
    return requests


def batches(items: list[Outgoing]) -> list[list[Outgoing]]:
    """Consecutive runs of at most 10 jobs whose bodies add up to at most 1 MiB.

    SQS refuses a whole ``SendMessageBatch`` whose bodies together exceed its batch limit
    (``BatchRequestTooLong``); a job at the limit on its own still gets a batch of its own.
    """
    result: list[list[Outgoing]] = []
    chunk: list[Outgoing] = []
    size = 0
    for item in items:
        body_bytes = wire_size(item.body)
        if chunk and (len(chunk) == BATCH_SIZE or size + body_bytes > BATCH_MAX_BYTES):
            result.append(chunk)
            chunk, size = [], 0
        chunk.append(item)
        size += body_bytes
    if chunk:
        result.append(chunk)
    return result


def _send_in_order(sqs: Any, chunks: list[list[Outgoing]]) -> SendOutcome:
    total = SendOutcome()
    for index, chunk in enumerate(chunks):
        outcome = send_batch(sqs, chunk)
        total.add(outcome)
        if outcome.failed:
            reason = (
                "not sent: an earlier job of this FIFO lane was refused, and sending later jobs "
                "past it would break the order"
            )
            for later in chunks[index + 1 :]:
                total.failed.update(dict.fromkeys((item.job_id for item in later), reason))
            break
    return total


def send_batch(sqs: Any, items: list[Outgoing]) -> SendOutcome:
    """One ``SendMessageBatch`` of up to 10 jobs to one queue, retrying the entries SQS rejects.

    Never raises an AWS error: a refused request fails the entries still pending, and entries
    already accepted in an earlier round stay reported as sent.
    """
    errors = aws_errors()
    pending = {str(index): item for index, item in enumerate(items)}
    total = SendOutcome()
    for attempt in range(BATCH_ATTEMPTS):
        if attempt:
            time.sleep(BATCH_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        entries = [{"Id": entry_id, **_message_fields(item)} for entry_id, item in pending.items()]
        try:
            response = sqs.send_message_batch(QueueUrl=items[0].lane.target, Entries=entries)
        except errors as exc:
            total.failed.update(dict.fromkeys((item.job_id for item in pending.values()), str(exc)))
            return total
        reading = read_batch_response(
            {entry_id: item.job_id for entry_id, item in pending.items()}, response
        )
        total.sent.extend(reading.sent)
        total.failed.update(reading.failed)
        pending = {entry_id: pending[entry_id] for entry_id in reading.retry}
        if not pending:
            return total
        last_reasons = reading.retry
    total.failed.update(
        {
            item.job_id: f"{last_reasons[entry_id]} (still refused after {BATCH_ATTEMPTS} sends)"
            for entry_id, item in pending.items()
        }
    )
    return total


class BatchReading:
    """What one ``SendMessageBatch`` response says: job ids ``sent``, entry ids to ``retry``
    (entry id → reason) and job ids ``failed`` for good (job id → reason)."""

    __slots__ = ("failed", "retry", "sent")

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.retry: dict[str, str] = {}
        self.failed: dict[str, str] = {}


def read_batch_response(entry_jobs: dict[str, str], response: dict[str, Any]) -> BatchReading:
    """Sort the entries of one response (``entry_jobs``: entry id → job id) into a reading.

    An entry in ``Failed`` with ``SenderFault: true`` is final (the same entry would be refused
    again); with ``SenderFault: false`` it is worth retrying. An entry the response does not
    mention at all is retried too: it was not confirmed, and a resend is harmless (FIFO lanes
    deduplicate by job id; standard queues are at-least-once anyway).
    """
    reading = BatchReading()
    answered: set[str] = set()
    for entry in response.get("Successful", []):
        entry_id = entry["Id"]
        if entry_id in entry_jobs:
            answered.add(entry_id)
            reading.sent.append(entry_jobs[entry_id])
    for entry in response.get("Failed", []):
        entry_id = entry["Id"]
        if entry_id not in entry_jobs or entry_id in answered:
            continue
        answered.add(entry_id)
        reason = f"{entry.get('Code', 'Unknown')}: {entry.get('Message', 'no message')}"
        if entry.get("SenderFault", False):
            reading.failed[entry_jobs[entry_id]] = reason
        else:
            reading.retry[entry_id] = reason
    for entry_id in entry_jobs:
        if entry_id not in answered:
            reading.retry[entry_id] = "SQS did not report this entry"
    return reading


def enqueue(prepared: list[PreparedJob], config: ClientConfig, *, single: bool) -> list[Job]:
    """The Goat backend's enqueue (:data:`lambda_jobs.backends.GOAT`): SQS messages."""
    return enqueue_jobs(prepared, config, send, single=single)
