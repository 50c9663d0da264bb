"""The Lambda Runtime API (version 2018-06-01) for one execution environment.

Lambda runs a function's process next to a small HTTP server, the *Runtime API*; the process (here
``python -m awslambdaric lambda_jobs.handler.handle``, exactly the image's CMD) finds it through
``AWS_LAMBDA_RUNTIME_API=<host:port>`` and loops: ``GET .../invocation/next`` (blocks until there
is work), run the handler, ``POST .../invocation/{id}/response`` or ``.../{id}/error``. A failing
init (the handler module cannot be imported) is reported with ``POST .../init/error`` before the
process exits.

:class:`RuntimeApi` serves that protocol on a free loopback port from a background thread and
gives the emulator a blocking call, :meth:`RuntimeApi.invoke`. What callers may rely on:

- One environment runs one invocation at a time: concurrent ``invoke`` calls queue up in order.
- ``invoke`` returns when the runtime posts a response or an error, when the runtime reports an
  init error (the result then carries that error, as Lambda reports it to the invoker), when
  :meth:`RuntimeApi.fail_pending` is called (the process died), or after ``timeout_s`` with
  ``timed_out=True``. After a time-out the runtime is still busy with that invocation: Lambda
  would reset the environment, and so must the caller (stop the process, make a new environment).
  A response arriving later for a timed-out invocation is accepted and ignored.
- The deadline the runtime sees (``Lambda-Runtime-Deadline-Ms``) is ``now + timeout_s``, so
  ``context.get_remaining_time_in_millis()`` in the handler counts down to the same moment.

What the real awslambdaric needs (read from its source): the ``/next`` reply must carry
``Content-Type: application/json`` and the ``Lambda-Runtime-*`` headers; its native client speaks
HTTP/1.1 with keep-alive, so every reply has a ``Content-Length``; Nagle's algorithm is off so that
small replies are not held back ~40 ms by delayed ACKs.

Environment of the runtime process (from awslambdaric's source): ``AWS_LAMBDA_RUNTIME_API`` is the
only required variable. ``AWS_EXECUTION_ENV=AWS_Lambda_python3.12`` (or 3.13) makes it poll
``/next`` from a helper thread as in the managed image; the handler still runs in the main thread.
Its ``context`` reads ``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``,
``AWS_LAMBDA_FUNCTION_VERSION``, ``AWS_LAMBDA_LOG_GROUP_NAME`` and ``AWS_LAMBDA_LOG_STREAM_NAME``;
``AWS_LAMBDA_LOG_FORMAT``/``AWS_LAMBDA_LOG_LEVEL`` are optional. Do not set
``AWS_LAMBDA_MAX_CONCURRENCY`` (multi-concurrency mode, another protocol) or
``_LAMBDA_TELEMETRY_LOG_FD``. Lambda also sets ``AWS_REGION``, ``LAMBDA_TASK_ROOT`` and
``_HANDLER``; awslambdaric does not read them, but handler code may.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/2018-06-01/runtime"
NEXT_PATH = f"{API_PREFIX}/invocation/next"
INIT_ERROR_PATH = f"{API_PREFIX}/init/error"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

#: How often a blocked ``/next`` wakes up to notice that the server is closing.
_POLL_SECONDS = 0.2


class InvocationResult:
    """How one invocation ended.

    ``ok`` is True when the handler returned (``body`` is its JSON response). Otherwise ``body``
    is the error document the runtime posted (``{"errorMessage", "errorType", "stackTrace", ...}``)
    and ``error_type`` its ``errorType`` (for example ``"ValueError"`` or
    ``"Runtime.ImportModuleError"``; the ``Lambda-Runtime-Function-Error-Type`` header when the body
    has none), or ``timed_out`` is True and ``body`` is empty.
    """

    __slots__ = ("body", "error_type", "ok", "request_id", "timed_out")

    def __init__(
        self,
        *,
        request_id: str,
        ok: bool,
        body: bytes,
        error_type: str | None = None,
        timed_out: bool = False,
    ) -> None:
        self.request_id = request_id
        self.ok = ok
        self.body = body
        self.error_type = error_type
        self.timed_out = timed_out

    def json(self) -> Any:
        """The body decoded as JSON (raises ``ValueError`` if it is not JSON)."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        state = "ok" if self.ok else ("timed out" if self.timed_out else f"error {self.error_type}")
        return f"<InvocationResult {self.request_id} {state}>"


class InitError:
    """The error a runtime reported from ``/init/error`` (its handler could not be loaded)."""

    __slots__ = ("body", "error_type")

    def __init__(self, *, error_type: str, body: bytes) -> None:
        self.error_type = error_type
        self.body = body

    @property
    def message(self) -> str:
        """``errorMessage`` from the body, or the raw body when it is not the usual document."""
        try:
            return str(json.loads(self.body)["errorMessage"])
        except (ValueError, KeyError, TypeError):
            return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<InitError {self.error_type}: {self.message}>"


class _Invocation:
    __slots__ = ("deadline_ms", "done", "function_arn", "payload", "request_id", "result", "trace")

    def __init__(
        self,
        request_id: str,
        payload: bytes,
        function_arn: str,
        timeout_s: float,
        trace: str | None = None,
    ):
        self.request_id = request_id
        self.payload = payload
        self.function_arn = function_arn
        self.deadline_ms = int((time.time() + timeout_s) * 1000)
        self.trace = trace or f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=0"
        self.done = threading.Event()
        self.result: InvocationResult | None = None

    def finish(self, result: InvocationResult) -> None:
        if not self.done.is_set():
            self.result = result
            self.done.set()


class RuntimeApi:
    """A Runtime API server for one execution environment; a context manager.

    ``address`` (``"127.0.0.1:<port>"``) is the value for ``AWS_LAMBDA_RUNTIME_API``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._pending: queue.Queue[_Invocation] = queue.Queue()
        self._by_id: dict[str, _Invocation] = {}
        self._issued: set[str] = set()
        self._lock = threading.Lock()
        self._invoke_lock = threading.Lock()
        self._closed = threading.Event()
        self._polled = threading.Event()
        self._init_error: InitError | None = None
        self._server = _QuietServer((host, 0), _make_handler(self))
        self.address = f"{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"runtime-api-{self.address}",
            daemon=True,
        )
        self._thread.start()

    @property
    def init_error(self) -> InitError | None:
        """The init error the runtime reported, if any (the process exits right after)."""
        return self._init_error

    @property
    def ready(self) -> bool:
        """True once the runtime has asked for work (its init finished without error)."""
        return self._polled.is_set()

    def wait_for_init(self, timeout_s: float) -> bool:
        """Block until the runtime first polls ``/next`` (True) or reports an init error (False).

        Returns False as well when ``timeout_s`` passes first; check :attr:`init_error` to tell.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._polled.wait(timeout=min(0.05, max(0.0, deadline - time.monotonic()))):
                return True
            if self._init_error is not None or self._closed.is_set():
                return False
        return self._polled.is_set()

    def invoke(
        self,
        payload: bytes,
        *,
        timeout_s: float,
        function_arn: str,
        request_id: str | None = None,
        trace: str | None = None,
    ) -> InvocationResult:
        """Hand ``payload`` to the runtime and block until it has answered or ``timeout_s`` passed.

        ``trace`` is the invocation's X-Ray trace header (``Lambda-Runtime-Trace-Id``, which the
        runtime exports as ``_X_AMZN_TRACE_ID``); default: a new one without ``Lineage``.

        Invocations are served one at a time, in call order; the time spent waiting for an earlier
        invocation counts toward ``timeout_s`` only from the moment this one is handed over.
        """
        request_id = request_id or str(uuid.uuid4())
        with self._invoke_lock:
            invocation = _Invocation(request_id, payload, function_arn, timeout_s, trace)
            with self._lock:
                if self._closed.is_set():
                    raise RuntimeError("this Runtime API is closed")
                self._by_id[request_id] = invocation
                self._issued.add(request_id)
                if self._init_error is not None:
                    invocation.finish(self._init_error_result(request_id, self._init_error))
                else:
                    self._pending.put(invocation)
            invocation.done.wait(timeout_s)
            with self._lock:
                self._by_id.pop(request_id, None)
                invocation.finish(
                    InvocationResult(request_id=request_id, ok=False, body=b"", timed_out=True)
                )
            assert invocation.result is not None
            return invocation.result

    def fail_pending(self, error_type: str, message: str) -> None:
        """End every invocation waiting or running here with an error (the process exited).

        Lambda reports a dead runtime as ``Runtime.ExitError``; the caller passes the type.
        """
        body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        with self._lock:
            invocations = list(self._by_id.values())
            while True:
                try:
                    invocations.append(self._pending.get_nowait())
                except queue.Empty:
                    break
        for invocation in invocations:
            invocation.finish(
                InvocationResult(
                    request_id=invocation.request_id, ok=False, body=body, error_type=error_type
                )
            )

    def close(self) -> None:
        """Stop serving; pending invocations end as failed. Safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.fail_pending("Runtime.Closed", "the Runtime API was closed")
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RuntimeApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- called from the HTTP handler threads -------------------------------------------------

    @staticmethod
    def _init_error_result(request_id: str, error: InitError) -> InvocationResult:
        return InvocationResult(
            request_id=request_id, ok=False, body=error.body, error_type=error.error_type
        )

    def _next(self) -> _Invocation | None:
        self._polled.set()
        while not self._closed.is_set():
            try:
                invocation = self._pending.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if not invocation.done.is_set():
                return invocation
        return None

    def _finish(self, request_id: str, result: InvocationResult) -> bool:
        """Record the answer for ``request_id``; False if that id was never handed out."""
        with self._lock:
            if request_id not in self._issued:
                return False
            invocation = self._by_id.get(request_id)
        if invocation is not None:
            invocation.finish(result)
        return True

    def _report_init_error(self, error: InitError) -> None:
        with self._lock:
            self._init_error = error
            waiting = list(self._by_id.values())
        for invocation in waiting:
            invocation.finish(self._init_error_result(invocation.request_id, error))


class _QuietServer(ThreadingHTTPServer):
    """Daemon handler threads; a runtime that disconnects mid-request is not an error here."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error_type(body: bytes) -> str | None:
    """``errorType`` of an error document; awslambdaric's header only says ``Unhandled``."""
    try:
        value = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _make_handler(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    class RuntimeApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the emulator reports invocations itself."""

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            # A runtime stopped by the emulator mid-request has nobody left to tell.
            with contextlib.suppress(ConnectionError):
                self.wfile.write(body)

        def _error(self, status: int, error_type: str, message: str) -> None:
            body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
            self._reply(status, body)

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def do_GET(self) -> None:
            if self.path != NEXT_PATH:
                self._error(404, "NotFound", f"no such endpoint: GET {self.path}")
                return
            invocation = api._next()
            if invocation is None:
                self._error(500, "Runtime.Closed", "the execution environment is shutting down")
                return
            self._reply(
                200,
                invocation.payload,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": invocation.trace,
                },
            )

        def do_POST(self) -> None:
            body = self._read_body()
            if self.path == INIT_ERROR_PATH:
                error_type = self.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown"
                api._report_init_error(InitError(error_type=error_type, body=body))
                self._reply(202, b'{"status":"OK"}')
                return
            prefix = f"{API_PREFIX}/invocation/"
            if not self.path.startswith(prefix):
                self._error(404, "NotFound", f"no such endpoint: POST {self.path}")
                return
            request_id, _, action = self.path.removeprefix(prefix).partition("/")
            if action == "response":
                result = InvocationResult(request_id=request_id, ok=True, body=body)
            elif action == "error":
                error_type = _error_type(body) or self.headers.get(ERROR_TYPE_HEADER) or "Unhandled"
                result = InvocationResult(
                    request_id=request_id, ok=False, body=body, error_type=error_type
                )
            else:
                self._error(404, "NotFound", f"no such endpoint: POST {self.path}")
                return
            if not api._finish(request_id, result):
                self._error(400, "InvalidRequestID", f"unknown request id {request_id!r}")
                return
            self._reply(202, b'{"status":"OK"}')

    return RuntimeApiHandler
