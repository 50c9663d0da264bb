"""Real-shaped Lambda inputs for handler tests, built from real moto state.

- :func:`sqs_event` receives messages from a moto queue and builds the event-source mapping batch
  exactly as AWS documents it (messageId, receiptHandle, body, attributes, messageAttributes,
  md5OfBody, eventSource, eventSourceARN, awsRegion) from the real receipt handles.
- :func:`settle` then does what the mapping does with the handler's answer: deletes every record
  that is not listed in ``batchItemFailures``.
- :class:`Context` is the Lambda context object the handler reads (function ARN, deadline).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from lambda_jobs.envelope import Envelope

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:jobs-default"


class Context:
    """The parts of awslambdaric's ``LambdaContext`` the handler uses."""

    def __init__(self, remaining_ms: float = 60_000, function_arn: str = FUNCTION_ARN) -> None:
        self.invoked_function_arn = function_arn
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def envelope(task: str, *args: Any, attempt: int = 1, **overrides: Any) -> Envelope:
    """A fresh envelope for ``task`` (a full task name) with ``args``."""
    return Envelope(
        id=str(uuid.uuid4()),
        task=task,
        args=list(args),
        enqueued_at=datetime.now(UTC),
        attempt=attempt,
        overrides=overrides,
    )


def make_queue(sqs: Any, name: str, *, fifo: bool = False, visibility: int = 30) -> tuple[str, str]:
    """Create a queue; returns (url, arn)."""
    attributes = {"VisibilityTimeout": str(visibility)}
    if fifo:
        name += ".fifo"
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def send(sqs: Any, url: str, *bodies: str, group: str | None = None) -> None:
    for body in bodies:
        extra = (
            {"MessageGroupId": group, "MessageDeduplicationId": str(uuid.uuid4())} if group else {}
        )
        sqs.send_message(QueueUrl=url, MessageBody=body, **extra)


def receive(sqs: Any, url: str, count: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Exactly ``count`` messages from ``url`` (polled until they are there)."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        assert time.monotonic() < deadline, f"only {len(messages)} of {count} messages arrived"
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, count - len(messages)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages.extend(response.get("Messages", []))
        if len(messages) < count:
            time.sleep(0.05)
    return messages


def record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    """One event-source mapping record for a received message (AWS's documented shape)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": None,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }


def sqs_event(sqs: Any, url: str, arn: str, count: int) -> dict[str, Any]:
    """Receive ``count`` messages and wrap them as an SQS batch event, in receive order."""
    return {"Records": [record(m, arn) for m in receive(sqs, url, count)]}


def failed_ids(result: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def settle(sqs: Any, url: str, event: dict[str, Any], result: dict[str, Any]) -> None:
    """Delete what the event-source mapping deletes: every record not in ``batchItemFailures``."""
    failed = set(failed_ids(result))
    for rec in event["Records"]:
        if rec["messageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=rec["receiptHandle"])


def dead_letters(sqs: Any, dlq_url: str, count: int) -> list[dict[str, Any]]:
    """Exactly ``count`` DLQ messages, deleted after reading, with attributes as plain strings."""
    messages = receive(sqs, dlq_url, count)
    for message in messages:
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return [
        {
            "body": m["Body"],
            **{
                name.removeprefix("lambda_jobs."): value["StringValue"]
                for name, value in m.get("MessageAttributes", {}).items()
            },
        }
        for m in messages
    ]


def queue_is_empty(sqs: Any, url: str) -> bool:
    """No message visible, in flight or delayed."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return all(
        attributes[key] == "0"
        for key in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def body_json(text: str) -> Any:
    return json.loads(text)
