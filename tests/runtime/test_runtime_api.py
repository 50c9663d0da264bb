"""The Lambda Runtime API server, spoken to over real HTTP as a runtime would.

Pinned behaviour: ``/next``
blocks until an invocation is submitted and carries the headers awslambdaric reads, with
``Content-Type: application/json``; response, error and init-error posts end the invocation;
an invocation that gets no answer times out; unknown request ids are refused.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lambda_jobs_tools.emulator.runtime_api import InvocationResult, RuntimeApi

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
NEXT = "/2018-06-01/runtime/invocation/next"


@pytest.fixture
def api() -> Iterator[RuntimeApi]:
    with RuntimeApi() as server:
        yield server


def request(
    api: RuntimeApi,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(api.address, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), data


def invoke_in_thread(api: RuntimeApi, payload: bytes, timeout_s: float) -> list[InvocationResult]:
    results: list[InvocationResult] = []
    thread = threading.Thread(
        target=lambda: results.append(api.invoke(payload, timeout_s=timeout_s, function_arn=ARN)),
        daemon=True,
    )
    thread.start()
    return results


def wait_for(results: list[Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not results:
        assert time.monotonic() < deadline, "no result in time"
        time.sleep(0.01)
    return results[0]


def test_next_carries_payload_and_lambda_headers_then_response_ends_invocation(api: RuntimeApi):
    assert api.address.startswith("127.0.0.1:")
    results = invoke_in_thread(api, b'{"hello": 1}', timeout_s=10)
    status, headers, body = request(api, "GET", NEXT)
    assert status == 200
    assert body == b'{"hello": 1}'
    assert headers["Content-Type"] == "application/json"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])
    assert 0 < deadline_ms / 1000 - time.time() <= 10
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    status, _, _ = request(
        api, "POST", f"/2018-06-01/runtime/invocation/{request_id}/response", b'{"ok": true}'
    )
    assert status == 202
    result = wait_for(results)
    assert result.ok and result.request_id == request_id and result.json() == {"ok": True}
    assert api.ready


def test_error_post_ends_invocation_with_its_error_type(api: RuntimeApi):
    results = invoke_in_thread(api, b"{}", timeout_s=10)
    _, headers, _ = request(api, "GET", NEXT)
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    status, _, _ = request(
        api,
        "POST",
        f"/2018-06-01/runtime/invocation/{request_id}/error",
        json.dumps(error).encode(),
        {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
    )
    assert status == 202
    result = wait_for(results)
    assert not result.ok and not result.timed_out
    assert result.error_type == "ValueError"
    assert result.json()["errorMessage"] == "boom"


def test_invocation_without_answer_times_out(api: RuntimeApi):
    started = time.monotonic()
    result = api.invoke(b"{}", timeout_s=0.3, function_arn=ARN)
    assert result.timed_out and not result.ok
    assert 0.3 <= time.monotonic() - started < 3


def test_unknown_request_id_is_refused(api: RuntimeApi):
    status, _, body = request(api, "POST", "/2018-06-01/runtime/invocation/nope/response", b"{}")
    assert status == 400
    assert b"unknown request id" in body


def test_init_error_is_recorded_and_ends_waiting_invocations(api: RuntimeApi):
    results = invoke_in_thread(api, b"{}", timeout_s=10)
    error = {"errorMessage": "cannot import", "errorType": "Runtime.ImportModuleError"}
    status, _, _ = request(
        api,
        "POST",
        "/2018-06-01/runtime/init/error",
        json.dumps(error).encode(),
        {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    assert status == 202
    assert not api.wait_for_init(1)
    assert api.init_error is not None
    assert api.init_error.error_type == "Runtime.ImportModuleError"
    assert api.init_error.message == "cannot import"
    result = wait_for(results)
    assert result.error_type == "Runtime.ImportModuleError"


def test_fail_pending_ends_a_running_invocation(api: RuntimeApi):
    results = invoke_in_thread(api, b"{}", timeout_s=10)
    request(api, "GET", NEXT)  # the runtime took it, then its process died
    api.fail_pending("Runtime.ExitError", "process exited with status 137")
    result = wait_for(results)
    assert result.error_type == "Runtime.ExitError"
    assert "137" in result.json()["errorMessage"]
