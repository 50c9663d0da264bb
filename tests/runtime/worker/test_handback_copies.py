"""Hand-back copies keep what makes them the same job: the tenant and the X-Ray trace header.

The handler talks to SQS through the emulator's SQS front (what SQS does with trace headers,
which moto alone does not: for batched messages the front holds them), the copies are read back
from moto and the front: a copy carries the original's
``AWSTraceHeader`` (so it is no further hop towards Lambda's recursive loop cutoff), or, for an
original without one, this invocation's header without its ``Lineage``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws
from lambda_jobs.worker.coldstart import cold_start
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs.worker.goat import copy_trace_header
from lambda_jobs_tools.emulator.motoserver import MotoServer
from lambda_jobs_tools.emulator.sqs_front import SqsFront

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

T = "tests.runtime.sample_tasks."
ORIGINAL = "Root=1-65f00000-0123456789abcdef01234567;Parent=1111111111111111;Sampled=0;Lineage=ab:5"
CURRENT = "Root=1-65f00001-fedcba9876543210fedcba98;Parent=2222222222222222;Sampled=0;Lineage=cd:3"


@pytest.fixture
def front(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqsFront]:
    server = SqsFront(moto.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.url)
    aws.reset()
    yield server
    server.close()


def _hand_back(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **send: Any):
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "jobs")
    dlq_url, _ = ev.make_queue(sqs, "jobs-dlq")
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", dlq_url)
    runtime = cold_start({"LAMBDA_JOBS_TASKS": "tests.runtime.sample_tasks"})
    for name in ("first", "second"):
        body = ev.envelope(T + "write_file", str(tmp_path / name), "ran").to_json()
        sqs.send_message(QueueUrl=url, MessageBody=body, **send)
    event = ev.sqs_event(sqs, url, arn, 2)
    # Inside a Lambda function: botocore sends _X_AMZN_TRACE_ID as the X-Amzn-Trace-Id header.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "jobs-function")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", CURRENT)
    result = dispatch(event, ev.Context(remaining_ms=2500), runtime)  # budget 0.5 s < 1 s
    ev.settle(sqs, url, event, result)
    (copy,) = ev.receive(sqs, url, 1)
    assert json.loads(copy["Body"])["args"][0].endswith("second")
    return copy


def _trace(front: SqsFront, copy: dict[str, Any]) -> str | None:
    """The copy's ``AWSTraceHeader`` as SQS would hold it."""
    return copy["Attributes"].get("AWSTraceHeader") or front.trace_header(copy["MessageId"])


def test_copy_keeps_the_originals_trace_header_and_tenant(
    moto: MotoServer, front: SqsFront, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = _hand_back(
        moto,
        monkeypatch,
        tmp_path,
        MessageGroupId="acme",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": ORIGINAL}},
    )
    assert _trace(front, copy) == ORIGINAL  # not CURRENT: no further hop
    assert copy["Attributes"]["MessageGroupId"] == "acme"


def test_copy_of_a_message_without_trace_header_gets_none_of_this_invocations_lineage(
    moto: MotoServer, front: SqsFront, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = _hand_back(moto, monkeypatch, tmp_path)
    header = _trace(front, copy)
    assert header == "Root=1-65f00001-fedcba9876543210fedcba98;Parent=2222222222222222;Sampled=0"
    assert "MessageGroupId" not in copy["Attributes"]


def test_copy_trace_header_outside_a_function_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    assert copy_trace_header({"attributes": {}}) is None
    assert copy_trace_header({"attributes": {"AWSTraceHeader": ORIGINAL}}) == ORIGINAL


def test_a_retry_copy_keeps_the_originals_trace_header_and_tenant(
    moto: MotoServer, front: SqsFront, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A Goat retry on a standard queue is a copy too (delayed by the backoff): the same job
    trying again, no further hop."""
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "jobs")
    runtime = cold_start({"LAMBDA_JOBS_TASKS": "tests.runtime.sample_tasks"})
    body = ev.envelope(T + "fail_until", str(tmp_path / "runs"), 2).to_json()  # 1 s backoff
    sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageGroupId="acme",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": ORIGINAL}},
    )
    event = ev.sqs_event(sqs, url, arn, 1)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "jobs-function")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", CURRENT)
    result = dispatch(event, ev.Context(), runtime)
    assert result == {"batchItemFailures": []}
    ev.settle(sqs, url, event, result)
    (copy,) = ev.receive(sqs, url, 1)
    assert json.loads(copy["Body"])["attempt"] == 2
    assert _trace(front, copy) == ORIGINAL  # not CURRENT: no further hop
    assert copy["Attributes"]["MessageGroupId"] == "acme"
