"""The one AWS endpoint of ``lambda-jobs local`` when IAM is checked: judge, then serve.

Every SDK call of the functions, and of apps and operators using the published client
configuration, arrives here. The gateway reads the caller's access key and the service from the
SigV4 signature, asks :class:`~lambda_jobs_tools.emulator.iam.authorizer.Authorizer` about each
(action, resource) the request needs (:mod:`~lambda_jobs_tools.emulator.iam.requests`), and either
forwards the request unchanged (SQS to the SQS front, Lambda to the Invoke API, the rest to
moto) or answers as AWS answers a denied call:

- SQS (JSON protocol): ``403``, ``x-amzn-query-error: AccessDenied;Sender``, ``__type``
  ``com.amazon.coral.service#AccessDeniedException`` (the code botocore reports is
  ``AccessDenied``; "Interpreting Amazon SQS JSON API responses", SQS Developer Guide);
- DynamoDB and SSM (JSON protocol): ``400`` with ``__type`` ``...#AccessDeniedException``;
- Lambda and EventBridge Scheduler (REST-JSON): ``403`` with ``x-amzn-ErrorType:
  AccessDeniedException``.

The message names the principal, the action and the resource, in AWS's words. A signed request
whose actions this gateway cannot tell is denied too (an ``AccessDenied`` naming the request),
so that nothing passes unjudged; unsigned requests (moto's own ``/moto-api``) pass.

moto is started without ``INITIAL_NO_AUTH_ACTION_COUNT``, so its own (partial) IAM checks are
off: this gateway is the only judge, and a denial never comes twice.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lambda_jobs_tools.emulator.iam.authorizer import Authorizer
from lambda_jobs_tools.emulator.iam.evaluator import EvaluatorUnavailable
from lambda_jobs_tools.emulator.iam.requests import Call, calls_of, signature
from lambda_jobs_tools.emulator.scheduler import CLOCK_PARAMETER

_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}
ACCOUNT_ID = "123456789012"


class Gateway:
    """The HTTP server; ``url`` is its endpoint; :meth:`close` stops it."""

    def __init__(
        self,
        authorizer: Authorizer,
        *,
        moto_url: str,
        upstreams: dict[str, str],
        on_denied: Any = None,
        host: str = "127.0.0.1",
    ) -> None:
        """``upstreams`` maps a service (``sqs``, ``lambda``) to the URL that serves it; every
        other service goes to ``moto_url``. ``on_denied(message)`` hears each denial."""
        self.authorizer = authorizer
        self.moto_url = moto_url
        self.upstreams = upstreams
        self.on_denied = on_denied
        self._local = threading.local()
        self._server = _Server((host, 0), _make_handler(self))
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="iam-gateway", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def forward(
        self, service: str, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request to the service's upstream on this thread's connection to it."""
        parts = urllib.parse.urlsplit(self.upstreams.get(service, self.moto_url))
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        connections: dict[tuple[str, int], http.client.HTTPConnection] = (
            getattr(self._local, "connections", None) or {}
        )
        self._local.connections = connections
        for attempt in (1, 2):
            connection = connections.get((host, port))
            if connection is None:
                connection = http.client.HTTPConnection(host, port, timeout=960)
                connections[(host, port)] = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                del connections[(host, port)]
                if attempt == 2:
                    raise
                continue
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, data
        raise AssertionError("unreachable")


def _emulator_own(call: Call) -> bool:
    """A read of what the emulator itself publishes (its schedule clock): no template grants
    it and nothing on AWS exists to grant, so it is served to every caller unjudged."""
    return call.action == "ssm:GetParameter" and call.resource.endswith(
        ":parameter" + CLOCK_PARAMETER
    )


def denial(service: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """AWS's reply to a denied call of ``service`` (see the module docstring)."""
    request_id = str(uuid.uuid4())
    if service in ("lambda", "scheduler"):
        body = json.dumps({"Message": message, "message": message}).encode()
        return (
            403,
            [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "AccessDeniedException"),
                ("x-amzn-RequestId", request_id),
            ],
            body,
        )
    body = json.dumps(
        {"__type": "com.amazon.coral.service#AccessDeniedException", "message": message}
    ).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
    if service == "sqs":
        headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        return 403, headers, body
    return 400, headers, body


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _make_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class GatewayHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: denials are reported through ``on_denied``."""

        def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            signed = signature(self.headers.get("Authorization"))
            service = signed.service if signed else "moto"
            if signed is not None:
                role = gateway.authorizer.principal(signed.access_key)
                if role is None:
                    gateway.authorizer.note_unchecked()
                else:
                    lowered = {k.lower(): v for k, v in headers.items()}
                    calls = calls_of(
                        signed, self.command, self.path, lowered, body, account=ACCOUNT_ID
                    )
                    if not calls:
                        message = (
                            f"User: {role.session_arn} made a request the emulator cannot "
                            f"check ({signed.service} {self.command} {self.path.split('?')[0]} "
                            f"{lowered.get('x-amz-target', '')})"
                        ).replace(" )", ")") + "; lambda-jobs local --no-iam serves it unjudged"
                        self._deny(service, message)
                        return
                    for call in calls:
                        if _emulator_own(call):
                            continue
                        try:
                            decision = gateway.authorizer.authorize(role, call)
                        except (ValueError, EvaluatorUnavailable) as exc:
                            # Never served unjudged: a request the evaluator cannot take fails.
                            self._deny(service, f"the emulator could not judge {call}: {exc}")
                            return
                        if not decision.allowed:
                            self._deny(service, decision.message)
                            return
            self._reply(*gateway.forward(service, self.command, self.path, headers, body))

        def _deny(self, service: str, message: str) -> None:
            if gateway.on_denied is not None:
                gateway.on_denied(message)
            self._reply(*denial(service, message))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    return GatewayHandler
