"""Lambda's async retry policy and on-failure destination, with a real environment pool."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lambda_jobs_tools.emulator.async_queue import (
    AsyncEvent,
    AsyncInvoker,
    invocation_record,
    record_over_limit,
    record_text,
)
from lambda_jobs_tools.emulator.console_log import JobLog
from lambda_jobs_tools.emulator.environments import FunctionPool
from lambda_jobs_tools.emulator.topology import AsyncInvokeSpec, FunctionSpec


class Destinations:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, target: str, record: dict[str, Any]) -> None:
        self.records.append((target, record))

    def wait(self, count: int, timeout: float = 20) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            assert time.monotonic() < deadline, f"no destination record within {timeout} s"
            time.sleep(0.05)
        return self.records


@pytest.fixture
def pool(function: FunctionSpec) -> Iterator[FunctionPool]:
    pool = FunctionPool(function, concurrency=1, base_environment={})
    yield pool
    pool.stop()


def invoker(pool: FunctionPool, config: AsyncInvokeSpec, sink: Destinations) -> AsyncInvoker:
    stop = threading.Event()
    result = AsyncInvoker(
        pool, config, retry_scale=0.01, destination=sink, log=JobLog(quiet=True), stop=stop
    )
    result.start()
    return result


def test_failing_event_is_retried_then_sent_to_the_on_failure_destination(
    pool: FunctionPool,
) -> None:
    sink = Destinations()
    config = AsyncInvokeSpec(max_retry_attempts=2, on_failure_arn="arn:aws:sqs:r:1:dlq")
    queue = invoker(pool, config, sink)
    started = time.monotonic()
    request_id = queue.submit(b'{"fail": "boom"}')
    ((target, record),) = sink.wait(1)
    queue.stop.set()
    assert target == "arn:aws:sqs:r:1:dlq"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responsePayload"]["errorType"] == "ValueError"
    # Waits of 60 s and 120 s scaled by 0.01: at least 1.8 s in all.
    assert time.monotonic() - started >= 1.8


def test_event_older_than_the_maximum_age_is_not_run(pool: FunctionPool) -> None:
    sink = Destinations()
    config = AsyncInvokeSpec(max_event_age_seconds=0, on_failure_arn="arn:dlq")
    queue = invoker(pool, config, sink)
    queue.submit(b"{}")
    ((_, record),) = sink.wait(1)
    queue.stop.set()
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record
    assert pool.pids == [], "no environment was started for an expired event"


def test_successful_event_goes_to_the_on_success_destination_once(pool: FunctionPool) -> None:
    sink = Destinations()
    config = AsyncInvokeSpec(on_success_arn="arn:ok", on_failure_arn="arn:dlq")
    queue = invoker(pool, config, sink)
    queue.submit(b"{}")
    ((target, record),) = sink.wait(1)
    queue.stop.set()
    assert target == "arn:ok"
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_destination_records_are_sent_utf8_and_one_over_the_limit_is_not_delivered() -> None:
    """A record is written as AWS sends it (compact, non-ASCII unescaped), so a 400,000-byte
    argument stays 400,000 bytes in it; one over the destination's limit is refused with why."""
    payload = json.dumps({"args": ["é" * 200_000]}, ensure_ascii=False).encode()
    record = invocation_record(
        AsyncEvent(payload), function_arn="arn:f", condition="RetriesExhausted", timeout_seconds=3
    )
    text = record_text(record)
    assert "é" * 200_000 in text and "\\u00e9" not in text
    assert len(text.encode()) < len(payload) + 1024
    assert record_over_limit(text, 1024 * 1024, "SQS") is None
    why = record_over_limit(text, 300_000, "SQS")
    assert why is not None and "over SQS's limit of 300,000 bytes: not delivered" in why
