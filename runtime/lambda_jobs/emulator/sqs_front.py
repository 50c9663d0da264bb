"""The SQS endpoint the emulated functions talk to: moto, plus what SQS does with trace headers.

SQS keeps the X-Ray trace header a sender gives, as the message's ``AWSTraceHeader`` system
attribute: from the ``X-Amzn-Trace-Id`` HTTP header (which botocore adds inside a Lambda
function) for every message of a ``SendMessage`` or ``SendMessageBatch`` request, unless a
message's own ``MessageSystemAttributes.AWSTraceHeader`` overrides it ("Amazon SQS and AWS
X-Ray"). moto ignores the HTTP header and drops a batch entry's system attributes, so this front
adds the header to each message and sends a batch that carries trace headers as one
``SendMessage`` per entry, answering with the batch's ``Successful``/``Failed`` lists (moto's
batch-wide checks, entry count and total size, are then not made: the lambda-jobs client and
handler stay within them). Every other request is passed through unchanged. Recursive loop
detection (:mod:`~lambda_jobs.emulator.recursion`) reads the header back from the messages.

Only the functions use it (``AWS_ENDPOINT_URL_SQS``, and the ``sqs`` endpoint of the client
configuration published in SSM, which tasks that enqueue read); apps outside send no trace header
and talk to moto directly.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_PREFIX = "AmazonSQS."
TRACE_HEADER = "X-Amzn-Trace-Id"
TRACE_ATTRIBUTE = "AWSTraceHeader"
#: Request headers passed on to moto (signature headers included: moto does not check them).
_SKIPPED_REQUEST_HEADERS = {"host", "content-length", "connection", "keep-alive"}
_PASSED_RESPONSE_HEADERS = ("Content-Type", "x-amzn-RequestId", "x-amzn-query-error")


class SqsFront:
    """The front server; ``url`` is its endpoint. :meth:`close` stops it."""

    def __init__(self, moto_url: str, host: str = "127.0.0.1") -> None:
        parts = urllib.parse.urlsplit(moto_url)
        self.moto_host = parts.hostname or "127.0.0.1"
        self.moto_port = parts.port or 80
        self._local = threading.local()
        self._server = _Server((host, 0), _make_handler(self))
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sqs-front", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def forward(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to moto on this thread's connection: (status, headers, body)."""
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(self.moto_host, self.moto_port, timeout=60)
                self._local.connection = connection
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            kept = {k: v for k in _PASSED_RESPONSE_HEADERS if (v := response.getheader(k))}
            return response.status, kept, data
        raise AssertionError("unreachable")


def with_trace(message: dict[str, Any], trace: str | None) -> dict[str, Any]:
    """``message`` (a SendMessage request or batch entry) with the sender's trace header, unless
    it carries its own ``AWSTraceHeader`` system attribute."""
    system = message.get("MessageSystemAttributes") or {}
    if trace is None or TRACE_ATTRIBUTE in system:
        return message
    return {
        **message,
        "MessageSystemAttributes": {
            **system,
            TRACE_ATTRIBUTE: {"DataType": "String", "StringValue": trace},
        },
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _make_handler(front: SqsFront) -> type[BaseHTTPRequestHandler]:
    class FrontHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silent."""

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in _SKIPPED_REQUEST_HEADERS
            }
            action = (self.headers.get("X-Amz-Target") or "").removeprefix(TARGET_PREFIX)
            raw_trace = self.headers.get(TRACE_HEADER)
            trace = urllib.parse.unquote(raw_trace) if raw_trace else None
            request = None
            if action in ("SendMessage", "SendMessageBatch"):
                try:
                    request = json.loads(body)
                except ValueError:
                    request = None
            if isinstance(request, dict) and action == "SendMessage":
                body = json.dumps(with_trace(request, trace)).encode()
            elif isinstance(request, dict) and action == "SendMessageBatch":
                entries = request.get("Entries") or []
                traced = trace is not None or any(
                    TRACE_ATTRIBUTE in (e.get("MessageSystemAttributes") or {})
                    for e in entries
                    if isinstance(e, dict)
                )
                if traced and all(isinstance(e, dict) for e in entries):
                    self._reply(*self._unbatched(request, entries, headers, trace))
                    return
            self._reply(*front.forward(self.path, headers, body))

        def _unbatched(
            self,
            request: dict[str, Any],
            entries: list[dict[str, Any]],
            headers: dict[str, str],
            trace: str | None,
        ) -> tuple[int, dict[str, str], bytes]:
            one = {**headers, "X-Amz-Target": TARGET_PREFIX + "SendMessage"}

            def send(entry: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
                message = {k: v for k, v in entry.items() if k != "Id"}
                message["QueueUrl"] = request.get("QueueUrl")
                return front.forward(
                    self.path, one, json.dumps(with_trace(message, trace)).encode()
                )

            if str(request.get("QueueUrl", "")).endswith(".fifo") or len(entries) < 2:
                replies = [send(entry) for entry in entries]  # FIFO: in the batch's order
            else:
                # In parallel, so that a batch costs about one request's time (a hand-back of
                # nine copies runs inside the function's deadline margin).
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=len(entries)) as pool:
                    replies = list(pool.map(send, entries))
            successful: list[dict[str, Any]] = []
            failed: list[dict[str, Any]] = []
            content_type = "application/x-amz-json-1.0"
            for entry, (status, reply_headers, data) in zip(entries, replies, strict=True):
                content_type = reply_headers.get("Content-Type", content_type)
                try:
                    answer = json.loads(data) if data else {}
                except ValueError:
                    answer = {"message": data.decode("utf-8", "replace")}
                if status == 200:
                    successful.append({"Id": entry.get("Id"), **answer})
                else:
                    code = str(answer.get("__type", "InternalError")).rsplit("#", 1)[-1]
                    failed.append(
                        {
                            "Id": entry.get("Id"),
                            "SenderFault": status < 500,
                            "Code": code,
                            "Message": str(answer.get("message", answer.get("Message", ""))),
                        }
                    )
            body = json.dumps({"Successful": successful, "Failed": failed}).encode()
            return 200, {"Content-Type": content_type}, body

    return FrontHandler
