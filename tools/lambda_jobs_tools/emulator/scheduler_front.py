"""The emulator's EventBridge Scheduler endpoint: moto, answering errors as AWS does.

Scheduler is a rest-json service: an error is an HTTP status, an ``x-amzn-ErrorType`` header
naming the error shape and a JSON body ``{"Message": ...}``. The shapes and their statuses are
the service model's (botocore ``scheduler`` 2021-06-30, the API Reference's "Errors"):
``ValidationException`` 400, ``ServiceQuotaExceededException`` 402, ``ResourceNotFoundException``
404, ``ConflictException`` 409, ``ThrottlingException`` 429, ``InternalServerException`` 500.

moto answers some requests it cannot serve with an HTML page and status 500, which botocore
retries (five times, slowly) and then embeds in its error: ``CreateSchedule`` or
``UpdateSchedule`` in a schedule group that does not exist is the one a user meets (a wrong or
deleted ``scheduler.group``). This front passes every request to moto unchanged and replaces only
such non-JSON error answers: a missing group becomes ``ResourceNotFoundException`` ("Schedule
group <name> does not exist.", the text moto's own ``GetSchedule`` uses), anything else
``InternalServerException`` carrying moto's status line. The emulator's clients (the published
client configurations, the functions' ``AWS_ENDPOINT_URL_SCHEDULER``) use it; the emulator's own
schedule poller talks to moto.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from lambda_jobs_tools.emulator.forwarding import KeepAlive, LoopbackServer, QuietHandler

_PASSED_RESPONSE_HEADERS = ("Content-Type", "x-amzn-RequestId", "x-amzn-ErrorType")
DEFAULT_GROUP = "default"


def error_answer(status: int, shape: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """A rest-json error as Scheduler sends it: (status, headers, body)."""
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": shape}
    return status, headers, json.dumps({"Message": message}).encode()


class SchedulerFront(LoopbackServer):
    """The front server; ``url`` is its endpoint. :meth:`close` stops it."""

    def __init__(self, moto_url: str, host: str = "127.0.0.1") -> None:
        self.moto_url = moto_url
        self._moto = KeepAlive(timeout=60)
        super().__init__(_make_handler(self), name="scheduler-front", host=host)

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to moto on this thread's connection: (status, headers, body)."""
        response, data = self._moto.send(self.moto_url, method, path, headers, body or None)
        kept = {k: v for k in _PASSED_RESPONSE_HEADERS if (v := response.getheader(k))}
        return response.status, kept, data

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """moto's answer, with a non-JSON error replaced by AWS's shape for it."""
        status, reply_headers, data = self.forward(method, path, headers, body)
        if status < 400 or "json" in reply_headers.get("Content-Type", ""):
            return status, reply_headers, data
        group = self._group_of(method, path, body)
        if group is not None and not self._group_exists(group, headers):
            return error_answer(
                404, "ResourceNotFoundException", f"Schedule group {group} does not exist."
            )
        why = f"the emulator's moto answered {status}"
        return error_answer(500, "InternalServerException", why)

    @staticmethod
    def _group_of(method: str, path: str, body: bytes) -> str | None:
        """The schedule group a CreateSchedule/UpdateSchedule request names, else None."""
        if method not in ("POST", "PUT") or not path.startswith("/schedules/"):
            return None
        try:
            request: Any = json.loads(body or b"{}")
        except ValueError:
            return None
        group = request.get("GroupName") if isinstance(request, dict) else None
        return group if isinstance(group, str) and group else DEFAULT_GROUP

    def _group_exists(self, group: str, headers: dict[str, str]) -> bool:
        path = "/schedule-groups/" + urllib.parse.quote(group, safe="")
        status, _, _ = self.forward("GET", path, headers, b"")
        return status != 404


def _make_handler(front: SchedulerFront) -> type[QuietHandler]:
    class FrontHandler(QuietHandler):
        def _handle(self) -> None:
            body = self.request_body()
            headers = self.request_headers()
            status, reply_headers, data = front.answer(self.command, self.path, headers, body)
            self.reply(status, reply_headers.items(), data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return FrontHandler
