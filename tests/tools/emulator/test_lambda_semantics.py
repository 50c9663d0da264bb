"""What the ESM deletes after an invocation, and the async destination record's format."""

from __future__ import annotations

import json

from lambda_jobs_tools.emulator.async_queue import AsyncEvent, invocation_record
from lambda_jobs_tools.emulator.esm import failed_item_ids, sqs_record
from lambda_jobs_tools.emulator.runtime_api import InvocationResult

IDS = ["m1", "m2", "m3"]


def result(body: object, ok: bool = True, timed_out: bool = False) -> InvocationResult:
    return InvocationResult(
        request_id="r", ok=ok, body=json.dumps(body).encode(), timed_out=timed_out
    )


def test_batch_item_failures_keep_only_the_listed_records() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert failed_item_ids(result(response), IDS, report=True) == {"m2"}


def test_success_without_failures_deletes_the_whole_batch() -> None:
    assert failed_item_ids(result(None), IDS, report=True) == set()
    assert failed_item_ids(result({"batchItemFailures": []}), IDS, report=True) == set()


def test_malformed_batch_item_failures_fail_the_whole_batch() -> None:
    unknown = {"batchItemFailures": [{"itemIdentifier": "other"}]}
    assert failed_item_ids(result(unknown), IDS, report=True) == set(IDS)
    assert failed_item_ids(result({"batchItemFailures": [{}]}), IDS, report=True) == set(IDS)


def test_function_error_or_time_out_deletes_nothing() -> None:
    assert failed_item_ids(result({}, ok=False), IDS, report=True) == set(IDS)
    assert failed_item_ids(result({}, ok=False, timed_out=True), IDS, report=True) == set(IDS)


def test_without_report_batch_item_failures_a_success_deletes_all() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert failed_item_ids(result(response), IDS, report=False) == set()


def test_sqs_record_has_lambdas_event_shape() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
    }
    record = sqs_record(message, queue_arn="arn:q", region="eu-west-1")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:q"
    assert record["messageAttributes"]["k"]["stringValue"] == "v"
    assert record["messageAttributes"]["k"]["dataType"] == "String"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"


def test_retries_exhausted_record_has_awss_destination_format() -> None:
    event = AsyncEvent(b'{"id": "job-1"}', request_id="req-1")
    event.attempts = 3
    event.last_result = InvocationResult(
        request_id="req-1",
        ok=False,
        body=b'{"errorType": "Runtime.ExitError", "errorMessage": "exited"}',
        error_type="Runtime.ExitError",
    )
    record = invocation_record(
        event,
        function_arn="arn:aws:lambda:r:1:function:f",
        condition="RetriesExhausted",
        timeout_seconds=3,
    )
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": "req-1",
        "functionArn": "arn:aws:lambda:r:1:function:f:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"id": "job-1"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "Runtime.ExitError"


def test_timed_out_invocation_reports_lambdas_time_out_message() -> None:
    event = AsyncEvent(b"{}", request_id="req-2")
    event.attempts = 1
    event.last_result = InvocationResult(request_id="req-2", ok=False, body=b"", timed_out=True)
    record = invocation_record(
        event, function_arn="arn:f", condition="RetriesExhausted", timeout_seconds=3
    )
    assert record["responsePayload"]["errorMessage"].endswith(
        "req-2 Task timed out after 3.00 seconds"
    )
