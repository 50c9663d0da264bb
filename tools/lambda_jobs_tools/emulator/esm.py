"""SQS event-source mapping pollers, with Lambda's semantics (which moto's own ESM lacks).

For each mapping, up to ``MaximumConcurrency`` pollers (never more than the function's
concurrency) each loop: wait for a message, gather up to ``BatchSize`` messages within the
``MaximumBatchingWindowInSeconds``, invoke the function with the SQS event, then:

- the function returned: delete every record not listed in ``batchItemFailures`` (when the mapping
  reports batch item failures; otherwise delete all). A malformed ``batchItemFailures`` (an entry
  without a known ``itemIdentifier``) fails the whole batch, as on Lambda;
- the function failed, crashed or timed out: delete nothing. The messages come back after their
  visibility timeout, and the queue's redrive policy moves them to its DLQ after
  ``maxReceiveCount`` receives.

**Batching window.** AWS defines the window as a maximum: "A batching window is the maximum amount
of time to gather records before invoking the function" ("How Lambda processes records from stream
and queue-based event sources", Batching behavior; the API reference's
``MaximumBatchingWindowInSeconds``: "the maximum amount of time, in seconds, that Lambda spends
gathering records before invoking the function"). Here it starts at the batch's first message: the
batch is invoked once ``BatchSize`` is reached or the window has passed, whichever is first, and
never waits for another poller to finish its receive.

**Receives.** moto's ``ReceiveMessage`` is not atomic (see ``_receive_locks``), so the pollers of a
queue take turns, one short (``WaitTimeSeconds=0``) receive at a time; none holds the turn while
it waits. An idle queue is polled about every :data:`IDLE_POLL_SECONDS` in all (each poller waits
that times the number of pollers, at most :data:`MAX_IDLE_PAUSE_SECONDS`). moto's long poll only
wakes up for new messages, so a message whose delay or visibility timeout (a retry's backoff)
ended during one was delivered up to a second late; short receives deliver it on time, as SQS's
long poll does.

Recursive loop detection (:mod:`~lambda_jobs_tools.emulator.recursion`): each message's
``AWSTraceHeader`` places it in a chain of requests. A message whose invocation would be the
function's 17th in its chain, on a function whose ``RecursiveLoop`` is not ``Allow``, is not
delivered: it is logged as stopped and stays in the queue; on AWS the mapping keeps refusing it
and the queue's redrive policy moves it to the DLQ after ``maxReceiveCount`` receives. Locally
those refused receives are not replayed one visibility timeout after another (100 of them would
take hours; AWS does not document their pace): the emulator moves the message to the redrive
policy's DLQ at once, as SQS's redrive does (body and message attributes unchanged), and deletes
it from the queue. Without a redrive policy it stays in the queue, as on AWS. The invocation runs
with the trace header of its delivered records' longest chain.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from lambda_jobs import aws
from lambda_jobs.config import ClientConfig

from lambda_jobs_tools.emulator import recursion
from lambda_jobs_tools.emulator.console_log import JobLog, describe_job
from lambda_jobs_tools.emulator.environments import FunctionPool
from lambda_jobs_tools.emulator.runtime_api import InvocationResult
from lambda_jobs_tools.emulator.topology import EventSourceMappingSpec

#: Seconds :meth:`EventSourceMappingPoller.receive_batch` waits for a first message before it
#: returns an empty batch (the poller's loop then calls it again).
LONG_POLL_SECONDS = 2
#: An idle queue is received from about this often (all its pollers together).
IDLE_POLL_SECONDS = 0.1
#: ... but each poller waits at most this long between two receives of an idle queue.
MAX_IDLE_PAUSE_SECONDS = 0.3
SQS_MAX_RECEIVE = 10

# moto's ReceiveMessage checks visibility and marks a message received without a lock, so two
# concurrent receives can both get the same message (a duplicate delivery SQS would not make at
# that rate; seen in the soak suite as a job dead-lettered as IncompleteAttempts without having
# run). One lock per queue serialises the pollers' receives; the invocations stay concurrent.
_receive_locks: dict[str, threading.Lock] = {}
_receive_locks_guard = threading.Lock()


def _receive_lock(queue_url: str) -> threading.Lock:
    with _receive_locks_guard:
        return _receive_locks.setdefault(queue_url, threading.Lock())


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the Lambda SQS event, built from a ``ReceiveMessage`` message."""
    attributes: dict[str, Any] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        binary = value.get("BinaryValue")
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [
                base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])
            ],
            "dataType": value.get("DataType"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_item_ids(result: InvocationResult, batch_ids: list[str], *, report: bool) -> set[str]:
    """The ids of the records that must stay in the queue after ``result``.

    Everything when the invocation failed or the response is malformed; nothing when it
    succeeded without item failures.
    """
    everything = set(batch_ids)
    if not result.ok:
        return everything
    if not report:
        return set()
    try:
        response = json.loads(result.body) if result.body.strip() else None
    except ValueError:
        return set()  # Lambda treats a non-JSON response as success of the whole batch.
    if not isinstance(response, dict) or response.get("batchItemFailures") is None:
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in everything:
            return everything  # Malformed: Lambda retries the whole batch.
        failed.add(item)
    return failed


class EventSourceMappingPoller:
    """The pollers of one event-source mapping; :meth:`start` them, then set ``stop``."""

    def __init__(
        self,
        spec: EventSourceMappingSpec,
        pool: FunctionPool,
        *,
        moto: ClientConfig,
        region: str,
        log: JobLog,
        stop: threading.Event,
        trace_headers: Callable[[str], str | None] | None = None,
    ) -> None:
        """``trace_headers``: message id -> the ``AWSTraceHeader`` SQS would hold for a message
        moto did not keep it for (batched sends, :meth:`SqsFront.trace_header`)."""
        self.spec = spec
        self.trace_headers = trace_headers
        self.pool = pool
        self.region = region
        self.log = log
        self.stop = stop
        self.sqs = aws.client("sqs", moto)
        limit = spec.maximum_concurrency or pool.concurrency
        self.concurrency = max(0, min(limit, pool.concurrency))
        self.source = f"{spec.function.name} <- {spec.queue.name}"
        self._redrive_url: str | None = None
        self._redrive_read = False

    def start(self) -> list[threading.Thread]:
        if not self.spec.enabled:
            return []
        threads = [
            threading.Thread(target=self._run, name=f"esm-{self.spec.logical_id}-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                messages = self.receive_batch()
                if messages:
                    self._process(messages)
            except Exception as exc:  # the poller must outlive one bad request
                if self.stop.is_set():
                    return
                self.log(self.source, f"poller error: {type(exc).__name__}: {exc}")
                self.stop.wait(1.0)

    def _receive(self, count: int, until: float) -> list[dict[str, Any]]:
        """One short receive in this queue's turn; nothing if the turn does not come by ``until``
        (``time.monotonic()``)."""
        lock = _receive_lock(self.spec.queue.url)
        if not lock.acquire(timeout=max(0.0, until - time.monotonic())):
            return []
        try:
            if self.stop.is_set():
                return []
            response = self.sqs.receive_message(
                QueueUrl=self.spec.queue.url,
                MaxNumberOfMessages=min(count, SQS_MAX_RECEIVE),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        finally:
            lock.release()
        return list(response.get("Messages") or [])

    def _poll(self, count: int, until: float, pause: float) -> list[dict[str, Any]]:
        """Receive every ``pause`` seconds until messages come or ``until`` has passed."""
        while True:
            messages = self._receive(count, until)
            left = until - time.monotonic()
            if messages or left <= 0 or self.stop.is_set():
                return messages
            self.stop.wait(min(pause, left))

    def receive_batch(self) -> list[dict[str, Any]]:
        """One batch: wait up to :data:`LONG_POLL_SECONDS` for a first message, then gather more
        until BatchSize or the end of the batching window, a maximum (module docstring)."""
        idle = min(IDLE_POLL_SECONDS * max(self.concurrency, 1), MAX_IDLE_PAUSE_SECONDS)
        size = self.spec.batch_size
        batch = self._poll(size, time.monotonic() + LONG_POLL_SECONDS, idle)
        window = self.spec.batching_window_seconds
        if not batch or window <= 0:
            return batch
        deadline = time.monotonic() + window
        while len(batch) < size and not self.stop.is_set() and time.monotonic() < deadline:
            batch += self._poll(size - len(batch), deadline, IDLE_POLL_SECONDS)
        return batch

    def _stop_loops(
        self, messages: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The messages Lambda would deliver, and the trace header of their longest chain.

        Messages stopped by recursive loop detection are made visible again (see the module
        docstring) and logged.
        """
        function = self.spec.function
        delivered: list[dict[str, Any]] = []
        longest: recursion.Hop | None = None
        for message in messages:
            attributes = message.setdefault("Attributes", {})
            if "AWSTraceHeader" not in attributes and self.trace_headers is not None:
                remembered = self.trace_headers(message["MessageId"])
                if remembered:
                    attributes["AWSTraceHeader"] = remembered  # as SQS would hold it
            header = attributes.get("AWSTraceHeader")
            hop = recursion.Hop(header, function.arn)
            if hop.stopped(function.recursive_loop):
                moved = self._redrive(message)
                where = (
                    "moved to the queue's dead-letter queue (what its redrive policy does after "
                    "maxReceiveCount refused receives)"
                    if moved
                    else "left in the queue (it has no redrive policy)"
                )
                self.log(
                    self.source,
                    f"recursive loop stopped  {describe_job(message['Body'])}: it would be "
                    f"invocation {hop.count} of {function.name} in one chain of requests "
                    f"(RecursiveLoop {function.recursive_loop}); {where}",
                )
                continue
            delivered.append(message)
            if longest is None or hop.count > longest.count:
                longest = hop
        return delivered, longest.trace if longest is not None else None

    def _redrive(self, message: dict[str, Any]) -> bool:
        """Move ``message`` to the queue's redrive DLQ as SQS would; False without a policy."""
        if not self._redrive_read:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.spec.queue.url, AttributeNames=["RedrivePolicy"]
            ).get("Attributes", {})
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            target = policy.get("deadLetterTargetArn")
            if isinstance(target, str):
                name, account = target.split(":")[5], target.split(":")[4]
                self._redrive_url = self.sqs.get_queue_url(
                    QueueName=name, QueueOwnerAWSAccountId=account
                )["QueueUrl"]
            self._redrive_read = True
        if self._redrive_url is None:
            return False
        request: dict[str, Any] = {"QueueUrl": self._redrive_url, "MessageBody": message["Body"]}
        if message.get("MessageAttributes"):
            request["MessageAttributes"] = {
                name: {
                    k: v
                    for k, v in value.items()
                    if k in ("DataType", "StringValue", "BinaryValue")
                }
                for name, value in message["MessageAttributes"].items()
            }
        if self._redrive_url.endswith(".fifo"):
            attributes = message.get("Attributes") or {}
            request["MessageGroupId"] = attributes.get("MessageGroupId") or "redrive"
            request["MessageDeduplicationId"] = message["MessageId"]
        self.sqs.send_message(**request)
        self.sqs.delete_message(
            QueueUrl=self.spec.queue.url, ReceiptHandle=message["ReceiptHandle"]
        )
        return True

    def _process(self, messages: list[dict[str, Any]]) -> None:
        messages, trace = self._stop_loops(messages)
        if not messages:
            return
        records = [
            sqs_record(m, queue_arn=self.spec.queue.arn, region=self.region) for m in messages
        ]
        payload = json.dumps({"Records": records}).encode()
        request_id = str(uuid.uuid4())
        with self.pool.lease(self.stop) as env:
            if env is None:
                return  # stopping: the messages return to the queue after their visibility
            for message in messages:
                self.log(self.source, f"start  {describe_job(message['Body'])}")
            result = env.invoke(payload, request_id=request_id, trace=trace)
        ids = [m["MessageId"] for m in messages]
        failed = failed_item_ids(result, ids, report=self.spec.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_MAX_RECEIVE):
            chunk = done[start : start + SQS_MAX_RECEIVE]
            self.sqs.delete_message_batch(
                QueueUrl=self.spec.queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        if not result.ok:
            reason = "timed out" if result.timed_out else f"failed ({result.error_type})"
            self.log(
                self.source,
                f"invocation {request_id[:8]} {reason}: {len(messages)} message(s) return "
                "to the queue after their visibility timeout",
            )
        for message in messages:
            if message["MessageId"] not in failed:
                outcome = "acknowledged"
            elif result.ok:
                outcome = "listed in batchItemFailures (comes back)"
            else:  # not the handler's hand-back: the invocation failed, nothing was deleted
                outcome = "returned with the failed invocation"
            self.log(self.source, f"{outcome}  {describe_job(message['Body'])}")
