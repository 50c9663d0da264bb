"""Dead-letter entries as the handler (or Lambda's on-failure destination) left them, and reading
them without losing any.

Two formats arrive in the DLQ:

- **lambda-jobs entries**: the body is the original envelope or recurring schedule's delivery (or
  whatever undecodable body came in) and the error is in the ``lambda_jobs.*`` String message
  attributes (docs/reference/wire-formats.md).
- **Lambda destination records** (Lamb): a job whose invocation crashed through Lambda's own async
  retries arrives as AWS's record: ``requestContext`` (function ARN, condition, invoke count),
  ``requestPayload`` (the envelope, a scheduler delivery holding it, or a recurring schedule's
  delivery, read as its firing's envelope) and ``responsePayload``
  (``errorType`` / ``errorMessage``).
- **Scheduler dead-letter events**: a schedule's firing that EventBridge Scheduler could not
  deliver (its target gone, say), sent by Scheduler to the schedule's ``DeadLetterConfig``
  queue: the error is in Scheduler's ``ERROR_CODE`` / ``ERROR_MESSAGE`` / ``TARGET_ARN``
  attributes and the body is read as the schedule's input (an envelope, a Lamb scheduler delivery
  holding one, or a recurring schedule's delivery), as the emulator writes it. AWS's page
  describes the body only as "a JSON payload containing invocation details": one that is not an
  input is listed with its error and without a job.

:func:`peek` receives every entry with a short visibility timeout and makes each visible again
(``ChangeMessageVisibility`` 0) before it returns, even if it fails half-way: looking never
consumes. If the process dies while looking, the entries come back by themselves after
:data:`PEEK_VISIBILITY_SECONDS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambda_jobs.errors import EnvelopeError
from lambda_jobs.scheduling import one_time as schedules
from lambda_jobs.scheduling import recurring

from lambda_jobs_tools.ops.shared import unqualified_arn

PREFIX = "lambda_jobs."
#: The attributes of a Scheduler dead-letter event ("Configuring a schedule's dead-letter queue in
#: EventBridge Scheduler", Scheduler User Guide); the body is the schedule's input.
SCHEDULER_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE", "SCHEDULE_ARN", "TARGET_ARN")
PEEK_VISIBILITY_SECONDS = 30
#: Entries read at most by one command (SQS has no cheaper way to list a queue).
DEFAULT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One DLQ entry, decoded as far as it goes. ``envelope`` is the raw envelope dict, if any."""

    message_id: str
    receipt: str
    body: str
    kind: str  # "lambda_jobs", "lambda_destination", "scheduler" or "unknown"
    envelope: dict[str, Any] | None
    job_id: str | None
    task: str | None
    reason: str | None
    error_type: str | None
    error_message: str | None
    error_traceback: str | None
    attempts: int | None
    failed_at: datetime | None
    source: str | None
    group_id: str | None
    queue: str | None = None
    """The name of the dead-letter queue the entry was read from."""

    @property
    def args_text(self) -> str:
        """The job's arguments as JSON (only shown with ``--show-args``)."""
        if self.envelope is None:
            return self.body
        return json.dumps(
            {"args": self.envelope.get("args", []), "kwargs": self.envelope.get("kwargs", {})},
            ensure_ascii=False,
        )


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse(message: dict[str, Any], queue: str | None = None) -> DeadLetter:
    """Decode one SQS message (``ReceiveMessage`` with all attributes) of the DLQ ``queue``."""
    body = str(message.get("Body", ""))
    attrs = {
        key.removeprefix(PREFIX): value.get("StringValue")
        for key, value in (message.get("MessageAttributes") or {}).items()
        if key.startswith(PREFIX)
    }
    system = message.get("Attributes") or {}
    sent_ms = _int(system.get("SentTimestamp"))
    sent = datetime.fromtimestamp(sent_ms / 1000, UTC) if sent_ms is not None else None
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    message_id = str(message.get("MessageId", ""))
    receipt = str(message.get("ReceiptHandle", ""))
    group_id = _str(system.get("MessageGroupId"))
    if (
        not attrs
        and isinstance(data, dict)
        and isinstance(data.get("requestContext"), dict)
        and "requestPayload" in data
    ):
        context = data["requestContext"]
        payload = data["requestPayload"]
        if (
            isinstance(payload, dict)
            and not recurring.is_delivery(payload)
            and isinstance(payload.get("job"), dict)
        ):
            payload = payload["job"]  # a scheduler delivery
        response = data.get("responsePayload")
        response = response if isinstance(response, dict) else {}
        envelope = _envelope(payload)
        function = _str(context.get("functionArn"))
        return DeadLetter(
            message_id=message_id,
            receipt=receipt,
            body=body,
            group_id=group_id,
            queue=queue,
            kind="lambda_destination",
            envelope=envelope,
            job_id=_str(envelope.get("id")) if envelope else None,
            task=_str(envelope.get("task")) if envelope else None,
            reason=_str(context.get("condition")),
            error_type=_str(response.get("errorType")),
            error_message=_str(response.get("errorMessage")),
            error_traceback="\n".join(str(x) for x in response.get("stackTrace") or []) or None,
            attempts=_int(context.get("approximateInvokeCount")),
            failed_at=_time(data.get("timestamp")) or sent,
            source=unqualified_arn(function) if function else None,
        )
    envelope = _envelope(data)
    if not attrs:
        scheduler = {
            key: value.get("StringValue")
            for key, value in (message.get("MessageAttributes") or {}).items()
            if key in SCHEDULER_ATTRIBUTES
        }
        if "ERROR_CODE" in scheduler and "SCHEDULE_ARN" in scheduler:
            target = _str(scheduler.get("TARGET_ARN"))
            return DeadLetter(
                message_id=message_id,
                receipt=receipt,
                body=body,
                group_id=group_id,
                kind="scheduler",
                envelope=envelope,
                job_id=_str(envelope.get("id")) if envelope else None,
                task=_str(envelope.get("task")) if envelope else None,
                reason=_str(scheduler.get("ERROR_CODE")),
                error_type=_str(scheduler.get("ERROR_CODE")),
                error_message=_str(scheduler.get("ERROR_MESSAGE")),
                error_traceback=None,
                attempts=_int(envelope.get("attempt")) if envelope else None,
                failed_at=sent,
                source=unqualified_arn(target) if target else None,
            )
    return DeadLetter(
        message_id=message_id,
        receipt=receipt,
        body=body,
        group_id=group_id,
        queue=queue,
        kind="lambda_jobs" if attrs else "unknown",
        envelope=envelope,
        job_id=_str(attrs.get("job_id")) or (_str(envelope.get("id")) if envelope else None),
        task=_str(attrs.get("task")) or (_str(envelope.get("task")) if envelope else None),
        reason=_str(attrs.get("reason")),
        error_type=_str(attrs.get("error_type")),
        error_message=_str(attrs.get("error_message")),
        error_traceback=_str(attrs.get("error_traceback")),
        attempts=_int(attrs.get("attempts")),
        failed_at=_time(attrs.get("failed_at")) or sent,
        source=_str(attrs.get("source")),
    )


def receive_page(sqs: Any, url: str, visibility: int, wait: int) -> list[dict[str, Any]]:
    """One ``ReceiveMessage`` of up to 10 entries with every attribute."""
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility,
        WaitTimeSeconds=wait,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(response.get("Messages", []))


def visible_count(sqs: Any, url: str) -> int:
    response = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(response["Attributes"]["ApproximateNumberOfMessages"])


def total_count(sqs: Any, url: str) -> int:
    """Entries visible, in flight and delayed (approximate, as SQS counts)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    names.append("ApproximateNumberOfMessagesDelayed")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def pages(
    sqs: Any, url: str, *, visibility: int, limit: int = DEFAULT_LIMIT
) -> Iterator[list[dict[str, Any]]]:
    """Receive the DLQ's visible entries page by page (up to ``limit``), each entry once.

    Each entry is hidden for ``visibility`` s; the caller owns the receipts (release or delete
    them). Stops once as many entries as SQS counted at the start have arrived
    (``ApproximateNumberOfMessages``: an entry that arrives meanwhile waits for the next command),
    or when a 1 s long poll finds nothing new.
    """
    expected = min(limit, visible_count(sqs, url))
    seen: set[str] = set()
    empty_polls = 0
    while len(seen) < expected and empty_polls < 2:
        page = receive_page(sqs, url, visibility, 1 if empty_polls else 0)
        fresh = [m for m in page if m["MessageId"] not in seen]
        seen.update(m["MessageId"] for m in fresh)
        empty_polls = 0 if fresh else empty_polls + 1
        if fresh:
            yield fresh


def release(sqs: Any, url: str, receipts: list[str]) -> None:
    """Make entries visible again at once (``ChangeMessageVisibility`` 0), 10 per request."""
    for start in range(0, len(receipts), 10):
        chunk = receipts[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
                for i, r in enumerate(chunk)
            ],
        )


def peek(sqs: Any, url: str, limit: int = DEFAULT_LIMIT) -> list[DeadLetter]:
    """Every entry of the DLQ, decoded, oldest failure first; none is consumed."""
    received: list[dict[str, Any]] = []
    try:
        for page in pages(sqs, url, visibility=PEEK_VISIBILITY_SECONDS, limit=limit):
            received.extend(page)
    finally:
        release(sqs, url, [m["ReceiptHandle"] for m in received])
    entries = [parse(m, url.rsplit("/", 1)[-1]) for m in received]
    entries.sort(key=lambda e: e.failed_at or datetime.max.replace(tzinfo=UTC))
    return entries


def _envelope(data: Any) -> dict[str, Any] | None:
    """The envelope dict a DLQ body holds: an envelope, a Lamb scheduler delivery's, or a
    recurring firing's (decoded)."""
    if isinstance(data, dict) and "lambda_jobs" in data:
        return data
    if schedules.is_lamb_delivery(data) and isinstance(data["job"], dict):
        return dict(data["job"])
    if recurring.is_delivery(data):
        try:
            return recurring.envelope_of(data).to_dict()
        except EnvelopeError:
            return None
    return None
