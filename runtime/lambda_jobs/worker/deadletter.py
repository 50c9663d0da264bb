"""Send a failed job to the dead-letter queue with the error as message attributes.

The DLQ entry keeps the original body unchanged (so it can be redriven as it was) and carries the
``lambda_jobs.*`` String attributes of docs/reference/wire-formats.md: ``reason`` (one of
:data:`lambda_jobs.worker.words.REASONS`), ``error_type``,
``error_message`` (first 4 KiB), ``error_traceback`` (last 4 KiB), ``attempts``, ``failed_at``
(ISO 8601 UTC), ``source`` (the ARN the job came from: SQS queue or Lambda function), ``task`` and
``job_id``. An attribute with no value (the task of a body that is not JSON) is left out: SQS
refuses empty attribute values. That is 9 of SQS's 10 attributes per message.

Attributes count towards SQS's 1 MiB message size (name, type and value). The client keeps a
job's envelope 16 KiB under it (``lambda_jobs.contract.DEAD_LETTER_RESERVE_BYTES``), which the
attributes never exceed; for a larger body (one not sent through the client) :func:`send`
shortens the traceback, then the error message, so the entry still fits.

:func:`send` raises whatever went wrong (``LAMBDA_JOBS_DLQ_URL`` unset, AWS refused): the caller
then keeps the message (Goat: ``batchItemFailures``; Lamb: raise so Lambda's async retry and
on-failure destination keep it). Imported on failure only: boto3 and traceback load here.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from lambda_jobs import aws
from lambda_jobs.contract import SQS_MAX_MESSAGE_BYTES
from lambda_jobs.errors import ConfigurationError
from lambda_jobs.jsoncodec import wire_size
from lambda_jobs.worker.words import REASONS

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from lambda_jobs.worker.words import Reason

DLQ_URL_ENV = "LAMBDA_JOBS_DLQ_URL"


ATTRIBUTE_PREFIX = "lambda_jobs."
#: Bound of ``error_message`` (its start) and ``error_traceback`` (its end), in UTF-8 bytes.
TEXT_LIMIT_BYTES = 4096

# Characters SQS accepts in message bodies and attribute values (the XML 1.0 character range).
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_text(text: str) -> str:
    """``text`` with every character SQS would refuse replaced by U+FFFD."""
    return _NOT_SQS_TEXT.sub("\ufffd", text)


def head(text: str, limit: int = TEXT_LIMIT_BYTES) -> str:
    """The first ``limit`` UTF-8 bytes of ``text`` (never splitting a character)."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def tail(text: str, limit: int = TEXT_LIMIT_BYTES) -> str:
    """The last ``limit`` UTF-8 bytes of ``text`` (never splitting a character)."""
    data = text.encode("utf-8")
    return data[-limit:].decode("utf-8", "ignore") if len(data) > limit else text


def format_traceback(error: BaseException) -> str:
    """The exception with its traceback, as Python prints it."""
    import traceback

    return "".join(traceback.format_exception(error))


def attributes(
    *,
    reason: Reason,
    error_type: str,
    error_message: str,
    error: BaseException | None,
    attempts: int | None,
    source: str | None,
    task: str | None,
    job_id: str | None,
    failed_at: datetime | None = None,
) -> dict[str, dict[str, str]]:
    """The ``MessageAttributes`` of a DLQ entry (empty values left out)."""
    if reason not in REASONS:
        raise ValueError(f"unknown dead-letter reason {reason!r}; expected one of {REASONS}")
    when = (failed_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    values = {
        "reason": reason,
        "error_type": error_type,
        "error_message": head(error_message),
        "error_traceback": tail(format_traceback(error)) if error is not None else "",
        "attempts": "" if attempts is None else str(attempts),
        "failed_at": when,
        "source": source or "",
        "task": task or "",
        "job_id": job_id or "",
    }
    return {
        ATTRIBUTE_PREFIX + name: {"DataType": "String", "StringValue": sqs_text(value)}
        for name, value in values.items()
        if value
    }


def message_size(body: str, message_attributes: dict[str, dict[str, str]]) -> int:
    """Bytes SQS counts for a message: the body plus each attribute's name, type and value."""
    size = wire_size(body)
    for name, value in message_attributes.items():
        size += wire_size(name) + wire_size(value["DataType"])
        size += wire_size(value.get("StringValue", ""))
    return size


def fit(body: str, message_attributes: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``message_attributes`` cut so that body and attributes fit SQS's message size.

    The traceback's end is shortened first, then the error message's start; the other attributes
    are short and identify the job, so they stay.
    """
    over = message_size(body, message_attributes) - SQS_MAX_MESSAGE_BYTES
    if over <= 0:
        return message_attributes
    fitted = dict(message_attributes)
    for name, cut in (("error_traceback", tail), ("error_message", head)):
        key = ATTRIBUTE_PREFIX + name
        value = fitted.get(key)
        if value is None or over <= 0:
            continue
        text = value["StringValue"]
        keep = wire_size(text) - over
        if keep > 0:
            fitted[key] = {**value, "StringValue": cut(text, keep)}
            over -= wire_size(text) - wire_size(fitted[key]["StringValue"])
        else:
            del fitted[key]
            over -= wire_size(key) + wire_size(value["DataType"]) + wire_size(text)
    return fitted


def send(
    body: str,
    message_attributes: dict[str, dict[str, str]],
    *,
    deduplication_id: str,
    group_id: str | None = None,
) -> None:
    """Put one entry on the DLQ named by ``LAMBDA_JOBS_DLQ_URL``; raises if it was not accepted.

    A FIFO DLQ (URL ending in ``.fifo``) needs a message group and a deduplication id:
    ``group_id`` (default ``lambda_jobs.dead_letters``) and ``deduplication_id`` (the SQS message
    id or job id and attempt, so a retried send is not stored twice).
    """
    url = os.environ.get(DLQ_URL_ENV, "").strip()
    if not url:
        raise ConfigurationError(
            f"{DLQ_URL_ENV} is not set: the handler has nowhere to put failed jobs "
            "(the backend construct sets it)"
        )
    request: dict[str, object] = {
        "QueueUrl": url,
        "MessageBody": body,
        "MessageAttributes": fit(body, message_attributes),
    }
    if url.endswith(".fifo"):
        request["MessageGroupId"] = (group_id or "lambda_jobs.dead_letters")[:128]
        request["MessageDeduplicationId"] = re.sub(r"[^\w!-/:-@\[-`{-~]", "_", deduplication_id)[
            :128
        ]
    aws.client("sqs", None).send_message(**request)
