"""Property: no SQS record body, however malformed, makes the handler raise or lose the record.

Hypothesis generates batches of bodies (arbitrary text, arbitrary JSON, envelope-like objects with
wrong types, versions and fields, and valid envelopes of tasks nobody registered); each batch goes
through a real moto queue, so the records carry real receipt handles. Every record must end either
listed in ``batchItemFailures`` or in the DLQ with its body unchanged, never both and never neither.
One queue pair is reused and drained per example to keep moto fast.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_jobs.worker.coldstart import cold_start
from lambda_jobs.worker.deadletter import sqs_text
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

# Text SQS accepts in a message body (it refuses some control characters and surrogates).
sqs_chars = st.characters(codec="utf-8").map(sqs_text)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(sqs_chars),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(sqs_chars, max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
envelope_fields = {
    "lambda_jobs": st.sampled_from([1, 1, 1, 0, 2, "1", None, True, 1.0]),
    "id": st.one_of(st.uuids().map(str), st.integers(), st.just(""), st.none()),
    "task": st.one_of(st.just("app.tasks.nobody"), st.text(sqs_chars, max_size=20), st.integers()),
    "args": st.one_of(st.lists(json_values, max_size=2), json_values),
    "kwargs": st.one_of(st.dictionaries(st.text(max_size=5), json_values, max_size=2), json_values),
    "queue": st.one_of(st.just("default"), json_values),
    "priority": st.one_of(st.integers(-200, 200), json_values),
    "enqueued_at": st.one_of(
        st.just("2026-11-27T20:00:00.000+00:00"), st.just("2026-11-27T20:00:00"), json_values
    ),
    "run_after": st.one_of(st.none(), json_values),
    "attempt": st.one_of(st.integers(-2, 60), json_values),
    "overrides": st.one_of(
        st.just({}),
        st.dictionaries(
            st.sampled_from(["retries", "timeout", "retry_backoff", "bogus"]),
            json_values,
            max_size=2,
        ),
    ),
    "extra": json_values,
}
envelope_like = st.fixed_dictionaries({}, optional=envelope_fields).map(json.dumps)
bodies = st.one_of(
    st.text(sqs_chars, min_size=1, max_size=200),
    json_values.map(json.dumps),
    envelope_like,
)


def test_no_body_makes_the_handler_raise_or_lose_the_record(moto: MotoServer, monkeypatch):
    sqs = boto_client(moto, "sqs")
    url, arn = ev.make_queue(sqs, "prop")
    dlq_url, _ = ev.make_queue(sqs, "prop-dlq")
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", dlq_url)
    runtime = cold_start({"LAMBDA_JOBS_TASKS": "tests.runtime.sample_tasks"})

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(bodies, min_size=1, max_size=4))
    def check(batch: list[str]) -> None:
        tagged = [(str(uuid.uuid4()), body) for body in batch]
        ids: dict[str, str] = {}  # SQS message id -> tag
        for tag, body in tagged:
            response = sqs.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={"tag": {"DataType": "String", "StringValue": tag}},
            )
            ids[response["MessageId"]] = tag
        event = ev.sqs_event(sqs, url, arn, len(batch))
        result: Any = dispatch(event, ev.Context(), runtime)  # must not raise
        listed = {ids[i] for i in ev.failed_ids(result)}
        ev.settle(sqs, url, event, result)
        dead = ev.dead_letters(sqs, dlq_url, len(batch) - len(listed))
        dead_bodies = sorted(entry["body"] for entry in dead)
        expected_dead = sorted(body for tag, body in tagged if tag not in listed)
        assert dead_bodies == expected_dead  # unchanged, each exactly once
        # Drain what was listed (it would come back after its visibility timeout).
        for rec in event["Records"]:
            if ids[rec["messageId"]] in listed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=rec["receiptHandle"])
        assert ev.queue_is_empty(sqs, url)
        assert ev.queue_is_empty(sqs, dlq_url)

    check()
