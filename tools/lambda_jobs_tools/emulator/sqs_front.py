"""The SQS endpoint the emulated functions talk to: moto, plus what SQS does with trace headers.

SQS keeps the X-Ray trace header a sender gives, as the message's ``AWSTraceHeader`` system
attribute: from the ``X-Amzn-Trace-Id`` HTTP header (which botocore adds inside a Lambda
function) for every message of a ``SendMessage`` or ``SendMessageBatch`` request, unless a
message's own ``MessageSystemAttributes.AWSTraceHeader`` overrides it ("Amazon SQS and AWS
X-Ray"). moto ignores the HTTP header and drops a batch entry's system attributes. So this front
adds the header to a ``SendMessage`` (moto keeps a single message's system attributes), and for a
``SendMessageBatch`` passes the batch on unchanged and remembers each sent message's trace header
by message id (:meth:`SqsFront.trace_header`), which the event-source mapping pollers put back
into the records' ``attributes`` as SQS would. Every other request is passed through unchanged.
Recursive loop detection (:mod:`~lambda_jobs_tools.emulator.recursion`) reads the header from there.

Only the functions use it (``AWS_ENDPOINT_URL_SQS``, and the ``sqs`` endpoint of the client
configuration published in SSM, which tasks that enqueue read); apps outside send no trace header
and talk to moto directly.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import OrderedDict
from typing import Any

from lambda_jobs_tools.emulator.forwarding import KeepAlive, LoopbackServer, QuietHandler

TARGET_PREFIX = "AmazonSQS."
TRACE_HEADER = "X-Amzn-Trace-Id"
TRACE_ATTRIBUTE = "AWSTraceHeader"
_PASSED_RESPONSE_HEADERS = ("Content-Type", "x-amzn-RequestId", "x-amzn-query-error")
#: Trace headers of batched messages remembered (the oldest are forgotten first).
MAX_REMEMBERED = 200_000


class SqsFront(LoopbackServer):
    """The front server; ``url`` is its endpoint. :meth:`close` stops it."""

    def __init__(self, moto_url: str, host: str = "127.0.0.1") -> None:
        self.moto_url = moto_url
        self._moto = KeepAlive(timeout=60)
        self._traces: OrderedDict[str, str] = OrderedDict()
        self._traces_lock = threading.Lock()
        super().__init__(_make_handler(self), name="sqs-front", host=host)

    def trace_header(self, message_id: str) -> str | None:
        """The ``AWSTraceHeader`` of a message sent in a batch through this front, if it had one."""
        with self._traces_lock:
            return self._traces.get(message_id)

    def remember(self, message_id: str, trace: str) -> None:
        with self._traces_lock:
            self._traces[message_id] = trace
            while len(self._traces) > MAX_REMEMBERED:
                self._traces.popitem(last=False)

    def forward(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to moto on this thread's connection: (status, headers, body)."""
        response, data = self._moto.send(self.moto_url, "POST", path, headers, body)
        kept = {k: v for k in _PASSED_RESPONSE_HEADERS if (v := response.getheader(k))}
        return response.status, kept, data


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


def _make_handler(front: SqsFront) -> type[QuietHandler]:
    class FrontHandler(QuietHandler):
        def do_POST(self) -> None:
            body = self.request_body()
            headers = self.request_headers()
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
                status, reply_headers, data = front.forward(self.path, headers, body)
                if status == 200:
                    self._remember(request, data, trace)
                self.reply(status, reply_headers.items(), data)
                return
            status, reply_headers, data = front.forward(self.path, headers, body)
            self.reply(status, reply_headers.items(), data)

        def _remember(self, request: dict[str, Any], data: bytes, trace: str | None) -> None:
            """Note the trace header of each message the batch sent (see the module docstring)."""
            entries = {e.get("Id"): e for e in request.get("Entries") or [] if isinstance(e, dict)}
            try:
                answer = json.loads(data)
            except ValueError:
                return
            for sent in answer.get("Successful") or []:
                entry = entries.get(sent.get("Id"))
                if entry is None or "MessageId" not in sent:
                    continue
                own = (entry.get("MessageSystemAttributes") or {}).get(TRACE_ATTRIBUTE) or {}
                header = own.get("StringValue") or trace
                if header:
                    front.remember(str(sent["MessageId"]), str(header))

    return FrontHandler
