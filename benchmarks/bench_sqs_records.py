"""SQS batches of no-op jobs, in the shape the event-source mapping hands the handler.

Records are built with the handler tests' own helpers (``tests.runtime.lambda_events``: AWS's
documented record shape, a real envelope per record), from message dicts shaped like a
``ReceiveMessage`` answer, so no queue is needed to measure the handler.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from typing import Any

from bench_tasks import NOOP_NAME

from tests.runtime.lambda_events import ACCOUNT, REGION, envelope, record

QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-default"


def _message(body: str) -> dict[str, Any]:
    now_ms = str(int(time.time() * 1000))
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": base64.b64encode(os.urandom(96)).decode(),
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
    }


def noop_event(count: int, task_name: str = NOOP_NAME) -> dict[str, Any]:
    """An SQS batch of ``count`` records, each a fresh envelope of ``task_name`` (the no-op)."""
    return {
        "Records": [
            record(_message(envelope(task_name).to_json()), QUEUE_ARN) for _ in range(count)
        ]
    }
