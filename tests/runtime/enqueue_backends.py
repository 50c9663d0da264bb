"""Goat and Lamb backends stood up by hand in the moto server, with their LAMBDA_JOBS_CONFIG.

The enqueue tests build the resources a construct would deploy (queues, DLQ, schedule group), write
the client configuration document per its schema (docs/reference/wire-formats.md), point
``LAMBDA_JOBS_CONFIG`` at it and then look at what arrived in moto.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import REGION, boto_client

ACCOUNT = "123456789012"
SCHEDULE_GROUP = "lambda-jobs"
SCHEDULER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambda-jobs-scheduler"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def lane(low: int, high: int, target: str, arn: str) -> dict[str, Any]:
    return {"min_priority": low, "max_priority": high, "target": target, "arn": arn}


def config_document(
    backend: str,
    queues: dict[str, dict[str, Any]],
    *,
    scheduler: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A version-1 client configuration (docs/reference/wire-formats.md)."""
    return {
        "version": 1,
        "backend": backend,
        "region": REGION,
        "queues": queues,
        "dead_letter_queue": {
            "url": f"http://127.0.0.1:1/{ACCOUNT}/dlq",
            "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq",
        },
        "scheduler": (
            {"group": SCHEDULE_GROUP, "role_arn": SCHEDULER_ROLE_ARN} if scheduler else None
        ),
        **extra,
    }


def use_config(monkeypatch: pytest.MonkeyPatch, document: dict[str, Any]) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(document))


class GoatBackend:
    """Queue ``default`` with two lanes (-100..49 ``low``, 50..100 ``high``), FIFO queue
    ``orders`` with one lane, a DLQ and a schedule group, all in moto."""

    def __init__(self, server: MotoServer) -> None:
        self.sqs = boto_client(server, "sqs")
        self.scheduler = boto_client(server, "scheduler")
        self.scheduler.create_schedule_group(Name=SCHEDULE_GROUP)
        self.low_url, self.low_arn = self.queue("default-low")
        self.high_url, self.high_arn = self.queue("default-high")
        self.fifo_url, self.fifo_arn = self.queue("orders.fifo", fifo=True)
        self.dlq_url, self.dlq_arn = self.queue("dlq")

    def queue(self, name: str, *, fifo: bool = False) -> tuple[str, str]:
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if fifo else {}
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def document(self, *, scheduler: bool = True, **extra: Any) -> dict[str, Any]:
        return config_document(
            "goat",
            {
                "default": {
                    "fifo": False,
                    "lanes": [
                        lane(-100, 49, self.low_url, self.low_arn),
                        lane(50, 100, self.high_url, self.high_arn),
                    ],
                },
                "orders": {"fifo": True, "lanes": [lane(-100, 100, self.fifo_url, self.fifo_arn)]},
            },
            scheduler=scheduler,
            **extra,
        )

    def receive(self, url: str, count: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Receive and delete exactly ``count`` messages, polling until a deadline."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(messages)} of {count} messages arrived in {timeout} s")
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            for message in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(batch)
        return messages

    def visible_now(self, url: str) -> list[dict[str, Any]]:
        """Messages receivable at this instant (no wait); received ones are deleted."""
        batch = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in batch:
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return list(batch)

    def counts(self, url: str) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return {name: int(value) for name, value in attributes["Attributes"].items()}

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule of the group, in full (get_schedule)."""
        listed = self.scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
        return [
            self.scheduler.get_schedule(Name=item["Name"], GroupName=SCHEDULE_GROUP)
            for item in listed
        ]


@pytest.fixture
def goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> GoatBackend:
    """A Goat backend in moto, with LAMBDA_JOBS_CONFIG set to its document."""
    backend = GoatBackend(moto)
    use_config(monkeypatch, backend.document())
    return backend
