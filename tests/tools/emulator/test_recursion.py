"""The emulator's model of Lambda's recursive loop detection, and its SQS front.

``Hop`` counts a function's invocations in one chain of requests from the trace header's
``Lineage``; the SQS front keeps a sender's ``X-Amzn-Trace-Id`` on every message it sends, as
SQS does, even in a ``SendMessageBatch`` (moto drops a batch entry's system attributes: the front
holds those headers by message id, for the event-source mapping to put back in the records).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lambda_jobs import aws
from lambda_jobs_tools.emulator import recursion
from lambda_jobs_tools.emulator.motoserver import MotoServer
from lambda_jobs_tools.emulator.sqs_front import SqsFront

from tests.conftest import boto_client

F = "arn:aws:lambda:us-east-1:123456789012:function:jobs"
G = "arn:aws:lambda:us-east-1:123456789012:function:other"


def test_hops_count_per_function_and_the_17th_is_stopped_unless_allowed() -> None:
    header = None
    for expected in range(1, 18):
        hop = recursion.Hop(header, F)
        assert hop.count == expected
        header = hop.trace
    assert hop.stopped("Terminate") and not hop.stopped("Allow")
    assert not recursion.Hop(None, F).stopped("Terminate")
    other = recursion.Hop(header, G)  # another function in the same chain starts at 1
    assert other.count == 1
    assert recursion.Hop(other.trace, F).count == 18  # the chain remembers F's count


def test_hop_keeps_the_root_and_reads_a_header_without_lineage() -> None:
    root = "1-65f00000-0123456789abcdef01234567"
    hop = recursion.Hop(f"Root={root};Parent=abc;Sampled=1", F)
    assert hop.count == 1
    assert hop.trace.startswith(f"Root={root};") and ";Lineage=" in hop.trace


@pytest.fixture
def front(moto: MotoServer) -> Iterator[SqsFront]:
    server = SqsFront(moto.url)
    yield server
    server.close()


def test_front_keeps_the_senders_trace_header_on_single_and_batched_messages(
    moto: MotoServer, front: SqsFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto_client(moto, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    trace = "Root=1-65f00000-0123456789abcdef01234567;Parent=1;Sampled=0;Lineage=ab:3|cd:1"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")  # botocore then sends the header
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", front.url)
    aws.reset()
    client = aws.client("sqs", None)
    client.send_message(QueueUrl=url, MessageBody="one")
    own = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-own"}}
    answer = client.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "two", "MessageGroupId": "acme"},
            {"Id": "b", "MessageBody": "three", "MessageSystemAttributes": own},
        ],
    )
    assert sorted(e["Id"] for e in answer["Successful"]) == ["a", "b"] and not answer.get("Failed")
    got: dict[str, dict[str, str]] = {}
    for _ in range(10):
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            held = m["Attributes"].get("AWSTraceHeader") or front.trace_header(m["MessageId"])
            got[m["Body"]] = {**m["Attributes"], "AWSTraceHeader": str(held)}
        if len(got) == 3:
            break
    assert got["one"]["AWSTraceHeader"] == trace
    assert got["two"]["AWSTraceHeader"] == trace and got["two"]["MessageGroupId"] == "acme"
    assert got["three"]["AWSTraceHeader"] == "Root=1-own"  # the entry's own overrides the header
    aws.reset()
