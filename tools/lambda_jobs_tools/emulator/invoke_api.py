"""The Lambda ``Invoke`` API over HTTP, as boto3's ``lambda`` client calls it.

``POST /2015-03-31/functions/{FunctionName}/invocations`` where ``FunctionName`` is a name, a full
or partial ARN, optionally with the ``$LATEST`` qualifier. ``X-Amz-Invocation-Type``:

- ``Event``: queued on the function's async queue (:mod:`~lambda_jobs_tools.emulator.async_queue`),
  answers ``202`` with ``x-amzn-RequestId``; payload up to 1 MiB. The ``X-Amzn-Trace-Id`` header
  goes with it (recursive loop detection, :mod:`~lambda_jobs_tools.emulator.recursion`).
- ``RequestResponse`` (default): runs now and answers ``200`` with the function's response;
  a function error sets ``X-Amz-Function-Error: Unhandled``; payload up to 6 MiB.
- ``DryRun``: ``204``.

Errors use Lambda's codes (``x-amzn-ErrorType`` header and JSON body), so boto3 raises the usual
exceptions: ``ResourceNotFoundException`` (404), ``RequestTooLargeException`` (413),
``InvalidRequestContentException`` (400).
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable

from lambda_jobs_tools.emulator.forwarding import LoopbackServer, QuietHandler
from lambda_jobs_tools.emulator.runtime_api import InvocationResult

PATH_PREFIX = "/2015-03-31/functions/"
PATH_SUFFIX = "/invocations"
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024


class InvokeTarget:
    """What the Invoke API needs of one function: queue an event, or run one now."""

    def __init__(
        self,
        arn: str,
        submit: Callable[[bytes, str, str | None], str],
        run: Callable[[bytes, str], InvocationResult],
        timeout_seconds: float,
    ) -> None:
        self.arn = arn
        self.submit = submit
        self.run = run
        self.timeout_seconds = timeout_seconds


def function_name(identifier: str) -> str:
    """The bare function name of a name, ``name:qualifier`` or full/partial ARN."""
    parts = identifier.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


class InvokeApi(LoopbackServer):
    """The HTTP server; ``url`` is its endpoint. :meth:`close` stops it."""

    def __init__(self, targets: dict[str, InvokeTarget], host: str = "127.0.0.1") -> None:
        self.targets = targets
        super().__init__(_make_handler(self), name="invoke-api", host=host)


def _make_handler(api: InvokeApi) -> type[QuietHandler]:
    # Silent, as every front: the async queue logs each job.
    class InvokeHandler(QuietHandler):
        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"Type": "User", "message": message}).encode()
            self._reply(status, body, {"x-amzn-ErrorType": code})

        def do_POST(self) -> None:
            payload = self.request_body()
            path = urllib.parse.urlsplit(self.path).path
            if not (path.startswith(PATH_PREFIX) and path.endswith(PATH_SUFFIX)):
                self._error(404, "UnknownOperationException", f"no such operation: {path}")
                return
            identifier = urllib.parse.unquote(path[len(PATH_PREFIX) : -len(PATH_SUFFIX)])
            target = api.targets.get(function_name(identifier))
            if target is None:
                known = ", ".join(sorted(api.targets)) or "(none)"
                self._error(
                    404,
                    "ResourceNotFoundException",
                    f"Function not found: {identifier} (this emulator runs: {known})",
                )
                return
            kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
            limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
            if len(payload) > limit:
                self._error(
                    413,
                    "RequestTooLargeException",
                    f"Request must be smaller than {limit} bytes for the Invoke operation",
                )
                return
            if payload:
                try:
                    json.loads(payload)
                except ValueError:
                    self._error(
                        400,
                        "InvalidRequestContentException",
                        "Could not parse request body into json",
                    )
                    return
            else:
                payload = b"{}"
            request_id = str(uuid.uuid4())
            if kind == "DryRun":
                self._reply(204, b"", {"x-amzn-RequestId": request_id})
            elif kind == "Event":
                # The caller's trace header: inside a function botocore sends the invocation's
                # (see lambda_jobs_tools.emulator.recursion).
                target.submit(payload, request_id, self.headers.get("X-Amzn-Trace-Id"))
                self._reply(202, b"", {"x-amzn-RequestId": request_id})
            elif kind == "RequestResponse":
                result = target.run(payload, request_id)
                headers = {"x-amzn-RequestId": request_id, "X-Amz-Executed-Version": "$LATEST"}
                body = result.body
                if not result.ok:
                    headers["X-Amz-Function-Error"] = "Unhandled"
                    if result.timed_out:
                        from lambda_jobs_tools.emulator.async_queue import error_payload

                        body = json.dumps(error_payload(result, target.timeout_seconds)).encode()
                self._reply(200, body, headers)
            else:
                self._error(
                    400,
                    "InvalidParameterValueException",
                    f"X-Amz-Invocation-Type must be Event, RequestResponse or DryRun, got {kind}",
                )

    return InvokeHandler
