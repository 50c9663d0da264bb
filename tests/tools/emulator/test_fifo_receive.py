"""The emulator's SQS FIFO receive, message by message, over HTTP against its moto server.

SQS's rules (``lambda_jobs_tools.emulator.fifo_receive``; "FIFO queue delivery logic in Amazon
SQS"): a group's messages come in the order they were sent, across visibility timeouts and
visibility changes; a receive returns a group's visible messages up to its first in-flight one and
none after it; other groups are not held up; as many of one group as possible come together. moto
5.2.5 alone fails the first two (it returns a timed-out group's last message first, and holds a
whole group while any of its messages is in flight).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client


class Fifo:
    """A FIFO queue in the session's moto server, named helpers for each SQS call."""

    def __init__(self, sqs: Any, visibility: int = 30, **attributes: str) -> None:
        self.sqs = sqs
        self.url = sqs.create_queue(
            QueueName=f"q-{uuid.uuid4().hex[:8]}.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": str(visibility), **attributes},
        )["QueueUrl"]
        self.handles: dict[str, str] = {}

    def send(self, group: str, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(
                QueueUrl=self.url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=uuid.uuid4().hex,
            )

    def receive(
        self, count: int = 10, *, visibility: int | None = None, wait: int = 0
    ) -> list[str]:
        """Bodies of one ``ReceiveMessage``, in the order SQS returned them."""
        extra = {} if visibility is None else {"VisibilityTimeout": visibility}
        messages = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=count, WaitTimeSeconds=wait, **extra
        ).get("Messages", [])
        for message in messages:
            self.handles[message["Body"]] = message["ReceiptHandle"]
        return [m["Body"] for m in messages]

    def show(self, body: str, seconds: int = 0) -> None:
        """``ChangeMessageVisibility`` of the last receipt of ``body``."""
        self.sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=self.handles[body], VisibilityTimeout=seconds
        )

    def delete(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=self.handles[body])


@pytest.fixture
def sqs(moto: MotoServer) -> Any:
    return boto_client(moto, "sqs")


def receive_when(fifo: Fifo, *, timeout: float, count: int = 10) -> list[str]:
    """The first non-empty receive within ``timeout`` seconds (short polls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fifo.receive(count)
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"nothing received within {timeout:g} s")


def test_a_group_comes_back_in_order_after_its_visibility_timeout(sqs: Any) -> None:
    fifo = Fifo(sqs, visibility=1)
    fifo.send("g", *(f"m{i}" for i in range(6)))
    assert fifo.receive() == [f"m{i}" for i in range(6)]
    assert fifo.receive() == []  # all in flight
    first = receive_when(fifo, timeout=5, count=1)
    again = [first[0]]
    while len(again) < 6:  # one at a time, deleting each: moto alone gives m5 first
        fifo.delete(again[-1])
        again += fifo.receive(1, visibility=30)
    assert again == [f"m{i}" for i in range(6)]


def test_a_receive_returns_a_group_up_to_its_first_in_flight_message_and_none_after(
    sqs: Any,
) -> None:
    fifo = Fifo(sqs)
    fifo.send("g", "a0", "a1", "a2", "a3")
    assert fifo.receive() == ["a0", "a1", "a2", "a3"]
    fifo.show("a2")
    assert fifo.receive() == []  # a2 is visible, but a0 and a1 before it are in flight
    fifo.show("a0")
    assert fifo.receive() == ["a0"]  # before the first in-flight one (a1): moto alone gives none
    fifo.delete("a0", "a1")
    assert fifo.receive() == ["a2"]  # a3 is still in flight
    fifo.show("a3")
    assert fifo.receive() == []  # behind a2, in flight again
    fifo.delete("a2")
    assert fifo.receive() == ["a3"]


def test_a_failed_message_holds_its_group_until_its_visibility_ends_then_all_come_in_order(
    sqs: Any,
) -> None:
    """What the Goat handler does on a FIFO lane: the failed one hidden for its backoff, the
    later ones made visible at once, the succeeded one deleted."""
    fifo = Fifo(sqs)
    fifo.send("g", "b0", "b1", "b2", "b3")
    assert fifo.receive() == ["b0", "b1", "b2", "b3"]
    started = time.monotonic()  # before b1's visibility change: its second starts there
    fifo.show("b1", 1)
    fifo.show("b2")
    fifo.show("b3")
    fifo.delete("b0")
    assert fifo.receive() == []
    assert receive_when(fifo, timeout=5) == ["b1", "b2", "b3"]
    assert time.monotonic() - started >= 0.9


def test_other_groups_go_on_and_a_receive_takes_as_many_of_one_group_as_it_can(
    sqs: Any,
) -> None:
    fifo = Fifo(sqs)
    fifo.send("x", "x0")
    fifo.send("y", "y0")
    fifo.send("x", "x1")
    fifo.send("y", "y1")
    assert fifo.receive(1) == ["x0"]
    assert fifo.receive() == ["y0", "y1"]  # x is held behind x0; y is not
    fifo.show("x0")
    fifo.show("y0")
    fifo.show("y1")
    assert fifo.receive() == ["x0", "x1", "y0", "y1"]  # group by group, each in order


def test_a_long_poll_returns_when_the_head_of_a_group_becomes_visible(sqs: Any) -> None:
    fifo = Fifo(sqs)
    fifo.send("g", "c0", "c1")
    assert fifo.receive(1) == ["c0"]
    fifo.show("c0", 1)
    started = time.monotonic()
    assert fifo.receive(wait=5) == ["c0", "c1"]
    assert 0.9 <= time.monotonic() - started < 3


def test_a_head_past_max_receive_count_is_redriven_and_its_group_goes_on(sqs: Any) -> None:
    dlq = Fifo(sqs)
    arn = sqs.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    fifo = Fifo(sqs, RedrivePolicy=f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": "1"}}')
    fifo.send("g", "d0", "d1")
    assert fifo.receive(1) == ["d0"]
    fifo.show("d0")
    assert fifo.receive() == ["d1"]  # d0 was received maxReceiveCount times: to the DLQ
    assert dlq.receive() == ["d0"]


def test_standard_queues_keep_moto_s_own_receive(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=f"std-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="s0")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in got] == ["s0"]
