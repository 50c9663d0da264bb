"""A real HTTP proxy in front of the emulator that answers some enqueue requests with AWS errors.

The client under test talks to the proxy (its ``LAMBDA_JOBS_CONFIG`` endpoint points here); the
proxy forwards to the real endpoint (moto's SQS, the emulator's Lambda Invoke API) except when a
seeded draw injects a fault:

- ``throttle``: answered at once with the service's throttling error (SQS ``ThrottlingException``,
  Lambda 429 ``TooManyRequestsException``); nothing reaches AWS.
- ``5xx``: answered at once with 500 or 503; nothing reaches AWS.
- ``lost_answer``: forwarded (AWS accepts the jobs) and then answered with 500, as when the answer
  is lost: the client cannot know the jobs were accepted.
- ``partial``: SQS ``SendMessageBatch`` only: some entries are held back from AWS and reported in
  ``Failed`` with ``SenderFault: false`` (a 200 answer, as SQS does when it fails part of a batch).

The proxy keeps which job ids AWS really accepted and which it accepted behind a lost answer, so a
test can check the client's report (``sent_ids`` / ``job_ids``) against what happened.

An ``outage`` (a function of the request's target and body) names requests by a key instead of
drawing: every request of a key it names fails (``5xx``, or ``lost_answer``) for
:data:`OUTAGE_SECONDS` from that key's first request, then the service is back: a fault a test
can count, and one that does not depend on how many requests the client makes (botocore's retry
quota, once spent, stops its retries: a count of failed requests would then span deliveries).
DynamoDB requests (``DynamoDB_20120810.*``) are answered in DynamoDB's JSON error format.

``agents`` counts the requests by target, by whether their ``User-Agent`` carries a mark
(``agent_mark``: the job store's direct path marks its own) and by the status answered.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

FAULTS = ("throttle", "5xx", "lost_answer", "partial")
#: How long an outage key is down from its first request.
OUTAGE_SECONDS = 2.0

#: ``outage(target, body)`` -> ``(key, "5xx" | "lost_answer" | "throttle")`` for a request to
#: fail, or None.
Outage = Callable[[str, bytes], tuple[str, str] | None]


class FaultProxy:
    """Forwards to ``upstream`` (``http://host:port``), injecting faults at ``rate`` per request."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float,
        seed: int,
        outage: Outage | None = None,
        outage_seconds: float = OUTAGE_SECONDS,
        agent_mark: str = "",
    ) -> None:
        self.upstream = upstream
        self.rate = rate
        self.outage = outage
        self.outage_seconds = outage_seconds
        self.agent_mark = agent_mark
        self.agents: Counter[tuple[str, bool, int]] = Counter()
        """Requests per (target, whether the User-Agent carries ``agent_mark``, status)."""
        self.outages: Counter[str] = Counter()
        """Requests failed per outage key."""
        self._outage_began: dict[str, float] = {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self.accepted: set[str] = set()
        """Job ids AWS accepted (forwarded and answered 2xx, not held back)."""
        self.accepted_behind_lost_answer: set[str] = set()
        """Job ids AWS accepted whose answer the proxy replaced with a 500."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def upstream(self) -> str:
        return f"http://{self.upstream_host}:{self.upstream_port}"

    @upstream.setter
    def upstream(self, url: str) -> None:
        """Where requests go (settable: a proxy can be started before what it fronts)."""
        parsed = urllib.parse.urlsplit(url)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80

    def _outage(self, target: str, body: bytes) -> str | None:
        """The fault of an outage request (counted), or None."""
        named = self.outage(target, body) if self.outage is not None else None
        if named is None:
            return None
        key, fault = named
        with self._lock:
            began = self._outage_began.setdefault(key, time.monotonic())
            if time.monotonic() - began >= self.outage_seconds:
                return None
            self.outages[key] += 1
            self.faults[fault] += 1
            return fault

    def _draw(self, batch: bool) -> str | None:
        with self._lock:
            self.requests += 1
            if self._random.random() >= self.rate:
                return None
            kinds = FAULTS if batch else FAULTS[:3]
            fault = self._random.choice(kinds)
            self.faults[fault] += 1
            return fault

    def _split(self, entries: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
        """(kept, held back): at least one entry held back."""
        with self._lock:
            held = [entry for entry in entries if self._random.random() < 0.5] or entries[:1]
        return [entry for entry in entries if entry not in held], held

    def _accept(self, ids: list[str], *, lost: bool) -> None:
        with self._lock:
            self.accepted.update(ids)
            if lost:
                self.accepted_behind_lost_answer.update(ids)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target") or ""
                is_sqs = target.startswith("AmazonSQS.")
                if target.startswith("DynamoDB_"):
                    is_sqs = True  # the same JSON error shape; named for DynamoDB in _error
                batch = target == "AmazonSQS.SendMessageBatch"
                fault = proxy._outage(target, body) or proxy._draw(batch)
                if fault == "throttle":
                    self._error(is_sqs, 400 if is_sqs else 429, throttle=True)
                    return
                if fault == "5xx":
                    self._error(is_sqs, proxy._random.choice([500, 503]), throttle=False)
                    return
                held: list[dict[str, Any]] = []
                if fault == "partial":
                    request = json.loads(body)
                    kept, held = proxy._split(request["Entries"])
                    request["Entries"] = kept
                    body = json.dumps(request).encode()
                    if not kept:
                        self._answer(200, {"Successful": [], "Failed": failed(held)}, is_sqs)
                        return
                status, headers, answer = self._forward(body)
                if 200 <= status < 300:
                    proxy._accept(job_ids(target, body), lost=fault == "lost_answer")
                if fault == "lost_answer":
                    self._error(is_sqs, 500, throttle=False)
                    return
                if held:
                    data = json.loads(answer)
                    data["Failed"] = [*data.get("Failed", []), *failed(held)]
                    self._answer(status, data, is_sqs)
                    return
                self._send(status, headers, answer)

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                connection = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=30
                )
                try:
                    headers = {
                        name: value
                        for name, value in self.headers.items()
                        if name.lower() not in {"host", "content-length", "connection"}
                    }
                    headers["Content-Length"] = str(len(body))
                    connection.request("POST", self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    connection.close()

            def _error(self, is_sqs: bool, status: int, *, throttle: bool) -> None:
                if is_sqs:
                    code = "ThrottlingException" if throttle else "InternalError"
                    service = "com.amazonaws.sqs"
                    if (self.headers.get("X-Amz-Target") or "").startswith("DynamoDB_"):
                        code = "ThrottlingException" if throttle else "InternalServerError"
                        service = "com.amazonaws.dynamodb.v20120810"
                    data = {"__type": f"{service}#{code}", "message": "injected by test"}
                    headers = [("Content-Type", "application/x-amz-json-1.0")]
                else:
                    code = "TooManyRequestsException" if throttle else "ServiceException"
                    data = {"Type": "Service", "message": "injected by test"}
                    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
                self._send(status, headers, json.dumps(data).encode())

            def _answer(self, status: int, data: dict[str, Any], is_sqs: bool) -> None:
                kind = "application/x-amz-json-1.0" if is_sqs else "application/json"
                self._send(status, [("Content-Type", kind)], json.dumps(data).encode())

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                agent = self.headers.get("User-Agent") or ""
                marked = bool(proxy.agent_mark) and proxy.agent_mark in agent
                with proxy._lock:
                    proxy.agents[self.headers.get("X-Amz-Target") or "", marked, status] += 1
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def failed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``Failed`` items of a SendMessageBatch answer for entries SQS did not take (its fault)."""
    return [
        {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
        for entry in entries
    ]


def job_ids(target: str, body: bytes) -> list[str]:
    """The envelope ids in a forwarded SendMessage(Batch) or Invoke request body."""
    if target == "AmazonSQS.SendMessageBatch":
        bodies = [entry["MessageBody"] for entry in json.loads(body)["Entries"]]
    elif target == "AmazonSQS.SendMessage":
        bodies = [json.loads(body)["MessageBody"]]
    elif target:
        return []
    else:  # Lambda Invoke: the payload is the envelope.
        bodies = [body.decode()]
    found = []
    for text in bodies:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            found.append(data["id"])
    return found
