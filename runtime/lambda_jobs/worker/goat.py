"""Goat: run one SQS batch from the event-source mapping and report ``batchItemFailures``.

For each record, in order:

- **attempt**, without the job store: on a standard queue whose retry after the envelope's
  ``attempt`` waits at most SQS's 900 s message delay (``DelaySeconds``,
  "SendMessageBatchRequestEntry", Amazon SQS API Reference; :attr:`_Record.by_copy`), a retry is a
  fresh copy of the envelope at ``attempt`` + 1, so the receive count of a message only counts its
  deliveries that did not finish (a crash, the whole function timing out), and the attempt is the
  envelope's ``attempt``.
  Elsewhere (FIFO queues, which refuse a per-message delay; longer backoffs) a retry keeps the
  message, and the attempt is the envelope's ``attempt`` + ``ApproximateReceiveCount`` - 1: every
  delivery counts, also one a neighbour's crash ended.
- **came back** (receive count above 1, or a copy marked :data:`RUN_ALONE`; no job store): a crash
  fails the whole invocation and raises the receive count of every record of the batch, also of
  those that never started; the count cannot tell the record that crashed from its neighbours. So
  such a record runs alone, in a child process (:func:`_process_alone`,
  :mod:`lambda_jobs.worker.isolation`). If it does not crash there, it runs as the attempt above:
  on a standard queue its unfinished deliveries are charged to nobody (they may have been a
  neighbour's crash); elsewhere a count past its last attempt runs as its last attempt, so it is
  never dead-lettered unrun. If it crashes alone, the crash is its own (``IncompleteAttempts``):
  retried as a copy marked :data:`RUN_ALONE` at ``attempt`` + 1 (so it crashes no batch), or after
  the backoff where retries keep the message, or dead-lettered on its last attempt. With the job
  store the claim counts attempts instead: a record that never started was never claimed.
- **success**: not listed; the event-source mapping deletes it.
- **failure with attempts left**: the backoff is
  :meth:`lambda_jobs.options.RetryPolicy.delay_after`. A copy (above): the copies of a batch are
  sent once it is done (``SendMessageBatch``, ``DelaySeconds`` = the backoff, :func:`_send_retries`)
  and the originals acknowledged, so a crash later in the invocation leaves no copy behind a
  message that comes back; a copy SQS refused falls back to the next way, with an error line (its
  next receive is then not charged: the attempt runs again). Otherwise ``ChangeMessageVisibility``
  to the backoff, then listed in ``batchItemFailures``.
- **dead-lettered** (sent to ``LAMBDA_JOBS_DLQ_URL`` with the ``lambda_jobs.*`` attributes, body
  unchanged, then not listed so the mapping deletes it): a failure on the last attempt
  (``exhausted``); an attempt already past the last one, i.e. earlier deliveries never finished
  (``exhausted``, error type ``IncompleteAttempts``); a body that is not an envelope this runtime
  reads or whose overrides are out of range (``undecodable``); a task nobody registered
  (``unknown_task``); a task registered after cold start (``not_allowed``). If the DLQ send
  fails, the record is listed instead: a message is never deleted unless it succeeded or reached
  the DLQ.
- **deadline** (:mod:`lambda_jobs.worker.deadline`): once a record may not start, it and all later
  records are handed back. On a standard queue a hand-back re-sends an identical copy of the
  envelope whose ``attempt`` is the attempt the record would have run as (so a hand-back does not
  use up an attempt; the copy of a record that came back is marked :data:`RUN_ALONE`) and
  acknowledges the original; a body that cannot be decoded, or a copy SQS refused, is listed
  instead. The copy carries the envelope, the original's tenant
  (``MessageGroupId``) and its X-Ray trace header, so it is no further hop towards Lambda's
  recursive loop cutoff (:func:`copy_trace_header`); SQS message attributes of the original are
  not copied (lambda-jobs puts nothing there but :data:`RUN_ALONE`, set as above). On a FIFO
  queue (source ARN ending in ``.fifo``) the records are listed, which keeps their order; there a
  hand-back does count as a delivery (the receive count grows), so it uses up an attempt.
- **FIFO order**: on a FIFO queue, once a record is listed, every later record of the batch is
  listed without running ("Handling errors for an SQS event source in Lambda": stop at the first
  failure and report it and every unprocessed record). Those later records, and a hand-back's,
  are made visible again at once (``ChangeMessageVisibilityBatch`` to 0, :func:`_release`)
  instead of staying in flight for the queue's whole visibility timeout (6 x the function
  timeout), during which SQS would deliver nothing after them in their message groups. SQS keeps
  them in order by itself: it returns no message of a group after an in-flight one ("FIFO queue
  delivery logic in Amazon SQS"), and the records before them are in flight until the mapping
  deletes them, the failed one until its backoff ends. So a group resumes right after the failed
  job's backoff (or at once after a hand-back), in order; the effective retry delay of a FIFO
  job is its backoff, and every later job of its group waits that long too.

**Job store** (``LAMBDA_JOBS_JOB_TABLE`` set; :mod:`lambda_jobs.jobstore.claims`): each started
record is claimed first, and the attempt is the store's count instead of the receive count. A job
that already finished is acknowledged without running (``skipped_duplicate``), so is a cancelled
one (``cancelled``); one running under a live lease elsewhere is made invisible until that lease
ends and listed (``deferred``: it comes back then, at the cost of one more receive, which counts
toward the queue's ``maxReceiveCount``). Outcomes are recorded after each attempt. A workflow
step whose bookkeeping failed after the step ended (a DynamoDB or enqueue error) is listed too,
hidden for 2, 4, 8 ... (at most 300) seconds by its receive count: its next delivery is
acknowledged once that bookkeeping is done (:mod:`lambda_jobs.worker.workflow_step`).

The handler never raises out of a batch: an unexpected error while handling one record lists that
record and goes on with the next. Its neighbours are never affected. boto3 is only loaded when a
record needs an AWS call (failure, DLQ, hand-back).
"""

from __future__ import annotations

from lambda_jobs.contract import MAX_VISIBILITY_SECONDS, SQS_MAX_DELAY_SECONDS
from lambda_jobs.worker.deadline import MIN_SLICE_MS, FunctionClock
from lambda_jobs.worker.lifecycle import live, send_to_dlq
from lambda_jobs.worker.triage import INCOMPLETE_ATTEMPTS, Arrival, decode_body
from lambda_jobs.worker.words import (
    BUSY,
    CANCELLED,
    DEFERRED,
    EXHAUSTED,
    HANDED_BACK,
    RETRYING,
    SKIPPED_DUPLICATE,
)

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.worker.coldstart import Runtime
    from lambda_jobs.worker.words import ClaimAction, Reason

EVENT_SOURCE = "aws:sqs"
#: SQS message attribute of a copy that must run alone (module docstring, "came back").
RUN_ALONE = "lambda_jobs.run_alone"


def is_sqs_batch(event: Any) -> bool:
    """True for an event-source mapping batch: ``Records`` whose ``eventSource`` is ``aws:sqs``."""
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == EVENT_SOURCE for r in records)
    )


class _Record(Arrival):
    """One SQS record: an :class:`~lambda_jobs.worker.triage.Arrival` plus what SQS says of it.

    ``message_id`` is read by the caller (it also names the record if building this one fails).
    """

    __slots__ = ("alone", "receipt", "record", "retry_copy")
    message_id: str  # always set for an SQS record ("" when SQS gave none)

    def __init__(self, record: dict[str, Any], runtime: Runtime, message_id: str) -> None:
        self.record = record
        self.receipt = str(record.get("receiptHandle", ""))
        body = record.get("body")
        count = _receive_count(record)
        Arrival.__init__(
            self,
            body if isinstance(body, str) else "",
            decode_body,
            runtime,
            str(record.get("eventSourceARN", "")),
            count,
            message_id,
        )
        #: Retries are delayed copies (module docstring, "attempt"); None: no retry is due.
        self.retry_copy: tuple[int, bool] | None = None  # (delay in seconds, crashed alone)
        attributes = record.get("messageAttributes")
        self.alone = self.store is None and (
            count > 1 or (isinstance(attributes, dict) and RUN_ALONE in attributes)
        )
        if count > 1 and self.by_copy:  # its receives since the last copy were not finished
            assert self.envelope is not None and self.options is not None
            self.attempt = self.envelope.attempt
            if self.reason == EXHAUSTED and self.attempt <= self.options.max_attempts:
                self.reason = None

    @property
    def by_copy(self) -> bool:
        """True when this message's retries are delayed copies, so its receive count only counts
        deliveries that did not finish (module docstring, "attempt"): a standard queue, no job
        store, and a backoff after the envelope's attempt that SQS can delay a message by."""
        options, envelope = self.options, self.envelope
        return (
            self.store is None
            and options is not None
            and envelope is not None
            and not self.source.endswith(".fifo")
            and options.retry.longest_delay_after(envelope.attempt) <= SQS_MAX_DELAY_SECONDS
        )

    @property
    def body(self) -> str:
        return str(self.raw)

    @property
    def message_group_id(self) -> str | None:
        """The FIFO message group of the record, if it has one."""
        attributes = self.record.get("attributes")
        group = attributes.get("MessageGroupId") if isinstance(attributes, dict) else None
        return group if isinstance(group, str) and group else None

    @property
    def need_ms(self) -> float:
        """Time this record needs to be worth starting (see :mod:`lambda_jobs.worker.deadline`).

        Nothing for a record refused unrun; one past its last attempt by the receive count may still
        run (alone, or when its claim says so): it needs its time."""
        if self.reason not in (None, EXHAUSTED) or self.options is None:
            return 0.0
        return self.options.timeout * 1000 if self.options.timeout is not None else MIN_SLICE_MS


def _receive_count(record: dict[str, Any]) -> int:
    """SQS's ``ApproximateReceiveCount`` of ``record``, at least 1 (1 when missing or bad)."""
    attributes = record.get("attributes")
    raw = attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None
    if raw is None:
        return 1
    try:
        count = int(raw)
    except (TypeError, ValueError):
        return 1
    return count if count > 1 else 1


_queue_urls: dict[str, str] = {}


def queue_url(source_arn: str) -> str:
    """The URL of the queue ``arn:aws:sqs:<region>:<account>:<name>`` (looked up once, cached)."""
    url = _queue_urls.get(source_arn)
    if url is None:
        from lambda_jobs import aws

        parts = source_arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise ValueError(f"not an SQS queue ARN: {source_arn!r}")
        response = aws.client("sqs", None).get_queue_url(
            QueueName=parts[5], QueueOwnerAWSAccountId=parts[4]
        )
        url = str(response["QueueUrl"])
        _queue_urls[source_arn] = url
    return url


def handle_batch(event: dict[str, Any], context: Any, runtime: Runtime) -> dict[str, Any]:
    """Run every record of an SQS batch; returns ``{"batchItemFailures": [...]}``. Never raises."""
    records: list[dict[str, Any]] = event["Records"]
    clock = FunctionClock(context, runtime.deadline_margin_ms)
    fifo = str(records[0].get("eventSourceARN", "")).endswith(".fifo")
    worker_id = str(getattr(context, "aws_request_id", "") or "")
    failures: list[str] = []
    handed_back: list[_Record] = []
    retried: list[_Record] = []
    started = 0
    stopped = False
    for raw in records:
        message_id = str(raw.get("messageId", ""))
        try:
            record = _Record(raw, runtime, message_id)
            if stopped or not clock.may_start(record.need_ms, started == 0):
                stopped = True
                handed_back.append(record)
                continue
            started += 1
            if not (_process_alone if record.alone else _process)(record, clock, worker_id):
                failures.append(record.message_id)
                stopped = stopped or fifo  # FIFO: every later record stays behind this one
            elif record.retry_copy is not None:
                retried.append(record)
        except Exception as exc:  # a bug here must not cost the neighbours their results
            failures.append(message_id)
            if fifo:
                stopped = True
            _log_internal_error(message_id, exc)
    failures.extend(_send_retries(retried))
    failures.extend(_hand_back(handed_back, fifo=fifo, clock=clock))
    return {"batchItemFailures": [{"itemIdentifier": item} for item in failures]}


def _process(record: _Record, clock: FunctionClock, worker_id: str) -> bool:
    """Handle one started record; True when it is settled (acknowledge it), False to list it."""
    return live(record, clock, worker_id, _GOAT)


class _Goat:
    """Goat's part of the one lifecycle (:class:`lambda_jobs.worker.lifecycle.Policy`): the
    answer is True to acknowledge the record, False to list it in ``batchItemFailures``."""

    __slots__ = ()

    def skipped(self, job: _Record, action: ClaimAction) -> bool:
        if action == BUSY:
            assert job.claimed is not None
            _defer(job, job.claimed.lease_remaining)
            return False
        job.log(CANCELLED if action == CANCELLED else SKIPPED_DUPLICATE, 0.0)
        return True

    def succeeded(self, job: _Record) -> bool:
        return True

    def retry(self, job: _Record, duration_ms: float, error_type: str) -> bool:
        return _retry_later(job, duration_ms, error_type)

    def dead_letter_entry(self, job: _Record, reason: Reason) -> tuple[str, str, str | None]:
        _task, job_id = job.identity()
        return job.body, job.message_id or f"{job_id}-a{job.attempt}", job.message_group_id

    def dead_lettered(self, job: _Record, reason: Reason, failure: Exception | None) -> bool:
        return failure is None

    def limited(self, job: _Record, wait_s: int, name: str) -> bool:
        from lambda_jobs.worker.limiting import goat_wait

        return goat_wait(job, wait_s, name)

    def unfinished(self, job: _Record) -> bool:
        # Listed: the message comes back after a short wait (doubling with its receive count)
        # and the redelivery finishes the workflow's bookkeeping without running the task.
        _hide(job, min(2 ** (job.receive_count or 1), UNFINISHED_WAIT_MAX_S))
        return False


#: The longest wait before a workflow step whose bookkeeping did not finish comes back.
UNFINISHED_WAIT_MAX_S = 300

_GOAT = _Goat()


def _process_alone(record: _Record, clock: FunctionClock, worker_id: str) -> bool:
    """:func:`_process` of a record that came back (or a copy marked :data:`RUN_ALONE`), without
    the job store, in a child process (:mod:`lambda_jobs.worker.isolation`: why).

    It is never dead-lettered unrun because of its receive count: one the count puts past its last
    attempt (FIFO, long backoffs) runs as its last attempt. If it crashes alone, the crash is its
    own: an attempt that did not finish (``IncompleteAttempts``), retried (a copy marked to run
    alone again, or after the backoff) or, on the last attempt, dead-lettered as such.
    """
    options = record.options
    if options is None or record.reason not in (None, EXHAUSTED):
        return _process(record, clock, worker_id)  # refused unrun: nothing that could crash
    from lambda_jobs.worker.isolation import run_alone

    counted = record.attempt
    if record.reason == EXHAUSTED:
        record.reason, record.attempt = None, options.max_attempts

    def work() -> bool | str:
        try:
            settled = _process(record, clock, worker_id)
        except Exception as exc:  # as handle_batch does: list it, say why
            _log_internal_error(record.message_id, exc)
            return False
        if record.retry_copy is not None:  # the parent sends it, with the batch's others
            delay, crashed = record.retry_copy
            return f"{delay} {int(crashed)}"
        return settled

    # The child keeps to its time limit itself; this is the backstop for one that does not:
    # killed (an attempt that did not finish) before Lambda's deadline would end this process.
    remaining = clock.remaining_ms()
    seconds = None
    if remaining is not None:
        seconds = (remaining - min(clock.margin_ms / 2, remaining / 5)) / 1000
    try:
        settled, how = run_alone(work, seconds)
    except OSError:  # no fork here: run it in this process, counted as before
        return _process(record, clock, worker_id)
    if isinstance(settled, str):
        delay, crashed = settled.split()
        record.retry_copy = (int(delay), crashed == "1")
        return True
    if settled is not None:
        return settled
    if not record.by_copy:  # the receive count charged its deliveries; so does this crash
        record.attempt = max(counted, record.attempt)
    if record.attempt < options.max_attempts:
        return _retry_later(record, 0.0, INCOMPLETE_ATTEMPTS, crashed=True)
    return send_to_dlq(
        record,
        _GOAT,
        EXHAUSTED,
        INCOMPLETE_ATTEMPTS,
        (
            f"attempt {record.attempt} crashed the function's process when run alone ({how}); "
            f"max_attempts is {options.max_attempts} and previous attempts did not finish "
            f"(ApproximateReceiveCount {record.receive_count})"
        ),
        None,
        0.0,
    )


def _retry_later(
    record: _Record, duration_ms: float, error_type: str, *, crashed: bool = False
) -> bool:
    """Make the next attempt come after the backoff; True to acknowledge the record, False to
    list it. A copy when :attr:`_Record.by_copy` (sent after the batch, :func:`_send_retries`),
    else the message hidden for the backoff. ``crashed``: this attempt crashed alone."""
    assert record.options is not None
    delay = record.options.retry.delay_after(record.attempt)
    if record.by_copy:
        record.retry_copy = (delay, crashed)
        record.log(RETRYING, duration_ms, error_type=error_type, retry_in_s=delay)
        return True
    aws_error = _hide(record, delay)
    record.log(RETRYING, duration_ms, error_type=error_type, retry_in_s=delay, aws_error=aws_error)
    return False


def _send_retries(records: list[_Record]) -> list[str]:
    """Send the retry copies of a batch (one request per 10); returns the ids to list.

    Sent once the batch is done, so a crash later in the invocation leaves none behind: the
    originals come back and run that attempt again. A copy SQS refused falls back to hiding the
    original for the backoff and listing it (its next receive is then not charged, see the module
    docstring), with an error line.
    """
    if not records:
        return []
    refused = _send_copies(records)
    listed = []
    for record in records:
        error = refused.get(record.message_id)
        if error is None:
            continue
        assert record.retry_copy is not None
        delay = record.retry_copy[0]
        hidden = _hide(record, delay)
        _log_internal_error(
            record.message_id,
            RuntimeError(f"retry copy refused: {error}" + (f"; {hidden}" if hidden else "")),
            f"hidden for its {delay} s backoff and listed in batchItemFailures",
        )
        listed.append(record.message_id)
    return listed


def _defer(record: _Record, lease_remaining: float) -> None:
    """Another attempt runs under a live lease: hide this copy until the lease is over.

    The caller lists it; it comes back once the lease has ended (then it is skipped as a duplicate,
    or run if that attempt crashed). Each return is one more SQS receive of the message.
    """
    import math

    delay = min(max(math.ceil(lease_remaining) + 1, 1), MAX_VISIBILITY_SECONDS)
    record.log(DEFERRED, 0.0, retry_in_s=delay, aws_error=_hide(record, delay))


def _hide(record: _Record, seconds: int) -> str | None:
    """Make the record's message invisible for ``seconds``; None, or the AWS error text.

    On failure the record is still listed: it comes back after its current visibility timeout.
    """
    try:
        from lambda_jobs import aws

        aws.client("sqs", None).change_message_visibility(
            QueueUrl=queue_url(record.source),
            ReceiptHandle=record.receipt,
            VisibilityTimeout=seconds,
        )
    except Exception as exc:
        return f"ChangeMessageVisibility failed: {type(exc).__name__}: {exc}"
    return None


def _hand_back(records: list[_Record], *, fifo: bool, clock: FunctionClock) -> list[str]:
    """Give unstarted records back; returns the message ids to list in ``batchItemFailures``."""
    if not records:
        return []
    listed = [r for r in records if fifo or r.envelope is None]
    copies = [r for r in records if not fifo and r.envelope is not None]
    refused = _send_copies(copies) if copies else {}
    not_released = _release(listed) if fifo else {}  # message id -> the AWS error
    remaining = clock.remaining_ms()
    remaining = round(remaining, 1) if remaining is not None else None  # as duration_ms is
    for record in records:
        record.log(
            HANDED_BACK,
            0.0,
            remaining_ms=remaining,
            aws_error=not_released.get(record.message_id),
        )
    return [r.message_id for r in listed] + [
        r.message_id for r in copies if r.message_id in refused
    ]


def _release(records: list[_Record]) -> dict[str, str]:
    """Make FIFO records visible again at once; returns ``{message id: AWS error}`` of failures.

    For the records listed behind a failed one, or handed back: SQS's FIFO rule keeps each
    behind the first in-flight message of its group (see the module docstring), so none
    overtakes the failed one. A record whose change failed stays in flight until the queue's
    visibility timeout ends (it comes back then, as it did before this release existed). The
    batch call needs no grant beyond ``sqs:ChangeMessageVisibility``, which retries already use
    (IAM has no separate batch action: "Actions, resources, and condition keys for Amazon SQS").
    """
    prefix = "ChangeMessageVisibilityBatch failed"
    failed: dict[str, str] = {}
    for source_arn, chunk in _batches(records):
        try:
            from lambda_jobs import aws

            response = aws.client("sqs", None).change_message_visibility_batch(
                QueueUrl=queue_url(source_arn),
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r.receipt, "VisibilityTimeout": 0}
                    for i, r in enumerate(chunk)
                ],
            )
        except Exception as exc:
            error = f"{prefix}: {type(exc).__name__}: {exc}"
            failed.update((r.message_id, error) for r in chunk)
            continue
        for entry in response.get("Failed", []):
            error = f"{prefix}: {entry.get('Code')}: {entry.get('Message')}"
            failed[chunk[int(entry["Id"])].message_id] = error
    return failed


def _send_copies(records: list[_Record]) -> dict[str, str]:
    """Send each record's copy (:func:`_copy_entry`); returns ``{refused message id: error}``."""
    prefix = "SendMessageBatch failed"
    refused: dict[str, str] = {}
    for source_arn, chunk in _batches(records):
        try:
            from lambda_jobs import aws

            response = aws.client("sqs", None).send_message_batch(
                QueueUrl=queue_url(source_arn),
                Entries=[_copy_entry(str(index), r) for index, r in enumerate(chunk)],
            )
        except Exception as exc:
            refused.update((r.message_id, f"{prefix}: {type(exc).__name__}: {exc}") for r in chunk)
            continue
        for failed in response.get("Failed", []):
            error = f"{prefix}: {failed.get('Code')}: {failed.get('Message')}"
            refused[chunk[int(failed["Id"])].message_id] = error
    return refused


def _batches(records: list[_Record]) -> list[tuple[str, list[_Record]]]:
    """``(queue ARN, up to 10 records)`` pairs: SQS's batch calls take 10 entries of one queue."""
    by_queue: dict[str, list[_Record]] = {}
    for record in records:
        by_queue.setdefault(record.source, []).append(record)
    return [
        (source_arn, group[start : start + 10])
        for source_arn, group in by_queue.items()
        for start in range(0, len(group), 10)
    ]


TRACE_HEADER = "AWSTraceHeader"
TRACE_ENV = "_X_AMZN_TRACE_ID"


def _copy_entry(entry_id: str, record: _Record) -> dict[str, Any]:
    """The ``SendMessageBatch`` entry of a copy of ``record``: its retry when it has one
    (``attempt`` + 1, delayed by the backoff), else its hand-back (or limit wait) copy at the
    attempt it would have run as. A copy of a record that runs alone is marked
    :data:`RUN_ALONE`, so that it runs alone too.

    The copy keeps the original's tenant (``MessageGroupId``) and its X-Ray trace header: the
    ``AWSTraceHeader`` system attribute overrides the HTTP trace header that botocore adds inside
    a Lambda function ("Amazon SQS and AWS X-Ray"), so the copy carries the original's
    recursion-detection ``Lineage`` instead of this invocation's one hop further on. A hand-back
    is the same job waiting, not a new hop: without this, a job handed back 16 times would meet
    Lambda's recursive loop cutoff ("Use Lambda recursive loop detection").
    """
    assert record.envelope is not None
    attempt = record.attempt
    alone = record.alone
    if record.retry_copy is not None:
        attempt += 1
        alone = record.retry_copy[1]  # crashed alone: its next attempt runs alone as well
    elif record.options is not None:  # a count past the last attempt runs as the last one
        attempt = min(attempt, record.options.max_attempts)  # (see "came back" above)
    entry: dict[str, Any] = {
        "Id": entry_id,
        "MessageBody": record.envelope.with_attempt(attempt).to_json(),
    }
    if record.retry_copy is not None and record.retry_copy[0] > 0:
        entry["DelaySeconds"] = record.retry_copy[0]
    if alone:
        reason = "crashed alone" if record.retry_copy is not None else "came back"
        entry["MessageAttributes"] = {RUN_ALONE: {"DataType": "String", "StringValue": reason}}
    group = record.message_group_id
    if group is not None:
        entry["MessageGroupId"] = group
    trace = copy_trace_header(record.record)
    if trace:
        entry["MessageSystemAttributes"] = {
            TRACE_HEADER: {"DataType": "String", "StringValue": trace}
        }
    return entry


def copy_trace_header(record: dict[str, Any]) -> str | None:
    """The trace header a re-sent copy of ``record`` carries so that it is no further hop.

    The record's own ``AWSTraceHeader`` when it has one; otherwise (a message sent from outside a
    function) this invocation's header without its ``Lineage`` field, so the copy is as
    lineage-free as the original was. None outside a Lambda invocation.
    """
    import os

    attributes = record.get("attributes")
    original = attributes.get(TRACE_HEADER) if isinstance(attributes, dict) else None
    if isinstance(original, str) and original:
        return original
    current = os.environ.get(TRACE_ENV, "")
    fields = [f for f in current.split(";") if f and not f.startswith("Lineage=")]
    return ";".join(fields) or None


def _log_internal_error(
    message_id: str, exc: Exception, action: str = "listed in batchItemFailures"
) -> None:
    from lambda_jobs.worker.joblog import write

    write(
        {
            "type": "lambda_jobs.internal_error",
            "level": "ERROR",
            "message_id": message_id,
            "error_type": type(exc).__name__,
            "error_message": str(exc)[:1000],
            "action": action,
        }
    )
