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

import json
import uuid
from typing import Any

from lambda_jobs_tools.emulator.forwarding import KeepAlive, LoopbackServer, QuietHandler
from lambda_jobs_tools.emulator.iam.authorizer import Authorizer
from lambda_jobs_tools.emulator.iam.evaluator import EvaluatorUnavailable
from lambda_jobs_tools.emulator.iam.requests import Call, calls_of, signature
from lambda_jobs_tools.emulator.scheduler import CLOCK_PARAMETER

_HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}
ACCOUNT_ID = "123456789012"


class Gateway(LoopbackServer):
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
        self._upstream = KeepAlive(timeout=960)
        super().__init__(_make_handler(self), name="iam-gateway", host=host)

    def forward(
        self, service: str, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request to the service's upstream on this thread's connection to it."""
        url = self.upstreams.get(service, self.moto_url)
        response, data = self._upstream.send(url, method, path, headers, body)
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        return response.status, kept, data


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


def _make_handler(gateway: Gateway) -> type[QuietHandler]:
    # Silent, as every front: denials are reported through ``on_denied``.
    class GatewayHandler(QuietHandler):
        def _handle(self) -> None:
            body = self.request_body()
            headers = self.request_headers(_HOP_BY_HOP)
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
            self.reply(*gateway.forward(service, self.command, self.path, headers, body))

        def _deny(self, service: str, message: str) -> None:
            if gateway.on_denied is not None:
                gateway.on_denied(message)
            self.reply(*denial(service, message))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    return GatewayHandler
