"""The Invoke API answers boto3's lambda client as Lambda does: Event -> 202, errors by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from lambda_jobs_tools.emulator.invoke_api import InvokeApi, InvokeTarget, function_name
from lambda_jobs_tools.emulator.runtime_api import InvocationResult

ARN = "arn:aws:lambda:us-east-1:123456789012:function:worker"


class Recorder:
    """A function target that records what it is given (a stand-in for the environment pool)."""

    def __init__(self) -> None:
        self.submitted: list[tuple[bytes, str]] = []

    def submit(self, payload: bytes, request_id: str, trace: str | None = None) -> str:
        self.submitted.append((payload, request_id))
        return request_id

    def run(self, payload: bytes, request_id: str) -> InvocationResult:
        if b"fail" in payload:
            return InvocationResult(
                request_id=request_id, ok=False, body=b'{"errorType": "ValueError"}'
            )
        return InvocationResult(request_id=request_id, ok=True, body=b'{"echo": ' + payload + b"}")


@pytest.fixture
def api() -> Iterator[tuple[Any, Recorder]]:
    recorder = Recorder()
    server = InvokeApi({"worker": InvokeTarget(ARN, recorder.submit, recorder.run, 3)})
    client = boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    yield client, recorder
    server.close()


def test_event_invocation_is_accepted_with_202_and_queued(api: tuple[Any, Recorder]) -> None:
    client, recorder = api
    response = client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b'{"a": 1}')
    assert response["StatusCode"] == 202
    assert recorder.submitted[0][0] == b'{"a": 1}'
    assert recorder.submitted[0][1] == response["ResponseMetadata"]["RequestId"]


def test_request_response_returns_the_function_result_or_its_error(
    api: tuple[Any, Recorder],
) -> None:
    client, _ = api
    ok = client.invoke(FunctionName="worker", Payload=b"1")
    assert ok["StatusCode"] == 200 and ok["Payload"].read() == b'{"echo": 1}'
    failed = client.invoke(FunctionName="worker:$LATEST", Payload=b'"fail"')
    assert failed["FunctionError"] == "Unhandled"


def test_unknown_function_is_resource_not_found_naming_it(api: tuple[Any, Recorder]) -> None:
    client, _ = api
    with pytest.raises(
        client.exceptions.ResourceNotFoundException, match="Function not found: nope"
    ):
        client.invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")


def test_payload_that_is_not_json_is_refused(api: tuple[Any, Recorder]) -> None:
    client, _ = api
    with pytest.raises(client.exceptions.InvalidRequestContentException, match="into json"):
        client.invoke(FunctionName="worker", InvocationType="Event", Payload=b"{nope")


def test_async_payload_over_one_mebibyte_is_too_large(api: tuple[Any, Recorder]) -> None:
    client, recorder = api
    payload = b'"' + b"x" * (1024 * 1024) + b'"'
    with pytest.raises(client.exceptions.RequestTooLargeException, match="1048576 bytes"):
        client.invoke(FunctionName="worker", InvocationType="Event", Payload=payload)
    assert recorder.submitted == []


def test_function_name_accepts_names_qualifiers_and_arns() -> None:
    assert function_name("worker") == "worker"
    assert function_name("worker:$LATEST") == "worker"
    assert function_name(ARN) == "worker"
    assert function_name("123456789012:function:worker") == "worker"
