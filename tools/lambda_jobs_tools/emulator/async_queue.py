"""Lambda's asynchronous invocation queue, retry policy and destinations, for one function each.

An ``Event`` invocation is accepted at once (the Invoke API answers 202) and queued here. Workers,
at most the function's concurrency, run queued events in environments from the function's pool.
When an invocation fails (function error, crash or time-out) Lambda retries it up to
``MaximumRetryAttempts`` times (0-2, default 2), about one minute after the first failure and two
minutes after the second; an event older than ``MaximumEventAgeInSeconds`` is not run any more.
Locally those waits are multiplied by ``retry_scale`` (``--async-retry-scale``: 1.0 keeps AWS's
minutes, 0.05 makes them 3 s and 6 s).

A discarded event goes to the ``OnFailure`` destination as AWS's invocation record::

    {"version": "1.0", "timestamp": "...Z",
     "requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "requestPayload": <the event>, "responseContext": {"statusCode", "executedVersion",
     "functionError"}, "responsePayload": <the error document>}

``condition`` is ``RetriesExhausted`` or ``EventAgeExceeded``. SQS queues and functions of the
emulated stacks are supported destinations. A record is sent as compact JSON with non-ASCII
characters as themselves (:func:`record_text`, the measure of every AWS input), so its size is the
event's own plus Lambda's fields and the error. AWS does not deliver a record over the
destination's limit: "Delivery errors can also occur due to permissions errors and size limits"
and are counted in the ``DestinationDeliveryFailures`` metric ("Capturing records of Lambda
asynchronous invocations"); for SNS "Lambda will drop the payload" ("OnFailure", Lambda API
reference). The emulator does likewise: such a record is not sent, and its log says so
(:func:`record_over_limit`). The Lamb client's payload limit keeps a crashed job's record inside
SQS's 1 MiB (``lambda_jobs.config.DEAD_LETTER_RESERVE_BYTES``).

An event sent from inside an invocation carries that invocation's trace header: when it would be
the function's 17th invocation in one chain of requests and the function's ``RecursiveLoop`` is
not ``Allow``, it is not run but sent to the ``OnFailure`` destination ("For asynchronous
invokes, Lambda sends the event to a dead-letter queue or on-failure destination", launch post of
recursive loop detection) with ``condition`` ``RecursiveInvocationException``: AWS does not
document the condition of such a record; the emulator names it after the exception Lambda raises.
See :mod:`lambda_jobs_tools.emulator.recursion`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lambda_jobs_tools.emulator import recursion
from lambda_jobs_tools.emulator.console_log import JobLog, describe_job
from lambda_jobs_tools.emulator.environments import FunctionPool
from lambda_jobs_tools.emulator.runtime_api import InvocationResult
from lambda_jobs_tools.emulator.topology import AsyncInvokeSpec

#: Lambda's waits before the 2nd and 3rd attempt of a failed async event, in seconds.
RETRY_WAITS_SECONDS = (60.0, 120.0)

Destination = Callable[[str, dict[str, Any]], None]
"""(destination ARN, invocation record) -> None; sends the record there."""


class AsyncEvent:
    """One queued ``Event`` invocation."""

    __slots__ = ("attempts", "hop", "last_result", "payload", "received_at", "request_id")

    def __init__(
        self, payload: bytes, request_id: str | None = None, *, hop: recursion.Hop | None = None
    ) -> None:
        self.payload = payload
        self.request_id = request_id or str(uuid.uuid4())
        self.received_at = time.time()
        self.attempts = 0
        self.last_result: InvocationResult | None = None
        self.hop = hop if hop is not None else recursion.Hop(None, "")
        """Its place in its chain of requests: Lambda's own retries are the same event."""


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_payload(result: InvocationResult, timeout_seconds: float) -> Any:
    """What Lambda reports as ``responsePayload`` for a failed invocation."""
    if result.timed_out:
        return {
            "errorMessage": f"{_iso_now()} {result.request_id} Task timed out after "
            f"{timeout_seconds:.2f} seconds"
        }
    try:
        return json.loads(result.body)
    except ValueError:
        return {"errorMessage": result.body.decode("utf-8", "replace")}


def invocation_record(
    event: AsyncEvent,
    *,
    function_arn: str,
    condition: str,
    timeout_seconds: float,
) -> dict[str, Any]:
    """The destination record AWS sends for ``event`` (see the module docstring)."""
    try:
        request_payload: Any = json.loads(event.payload)
    except ValueError:
        request_payload = event.payload.decode("utf-8", "replace")
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _iso_now(),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": request_payload,
    }
    result = event.last_result
    if result is not None:
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if result.ok:
            try:
                record["responsePayload"] = json.loads(result.body) if result.body else None
            except ValueError:
                record["responsePayload"] = result.body.decode("utf-8", "replace")
        else:
            response_context["functionError"] = "Unhandled"
            record["responsePayload"] = error_payload(result, timeout_seconds)
        record["responseContext"] = response_context
    return record


def record_text(record: dict[str, Any]) -> str:
    """The text of a destination record as sent: :func:`lambda_jobs.jsoncodec.wire_json`."""
    from lambda_jobs.jsoncodec import wire_json

    return wire_json(record)


def record_over_limit(text: str, limit: int, destination: str) -> str | None:
    """None if ``text`` fits ``limit`` bytes (the destination's), else why it is not delivered."""
    from lambda_jobs.jsoncodec import wire_size

    size = wire_size(text)
    if size <= limit:
        return None
    return (
        f"record of {size:,} bytes is over {destination}'s limit of {limit:,} bytes: not "
        "delivered (AWS counts it in DestinationDeliveryFailures)"
    )


class AsyncInvoker:
    """The async queue of one function and the workers that drain it."""

    def __init__(
        self,
        pool: FunctionPool,
        config: AsyncInvokeSpec,
        *,
        retry_scale: float,
        destination: Destination,
        log: JobLog,
        stop: threading.Event,
    ) -> None:
        self.pool = pool
        self.config = config
        self.retry_scale = retry_scale
        self.destination = destination
        self.log = log
        self.stop = stop
        self.source = pool.function.name
        self._heap: list[tuple[float, int, AsyncEvent]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._run, name=f"async-{self.source}-{i}", daemon=True)
            for i in range(self.pool.concurrency)
        ]
        for thread in threads:
            thread.start()
        return threads

    def submit(
        self, payload: bytes, request_id: str | None = None, trace: str | None = None
    ) -> str:
        """Queue one event; returns its request id (what the Invoke API answers with).

        ``trace`` is the caller's ``X-Amzn-Trace-Id`` (None from outside any function).
        """
        event = AsyncEvent(payload, request_id, hop=recursion.Hop(trace, self.pool.function.arn))
        self._push(event, time.monotonic())
        self.log(self.source, f"queued {describe_job(payload)} (request {event.request_id[:8]})")
        return event.request_id

    def _push(self, event: AsyncEvent, due: float) -> None:
        with self._ready:
            heapq.heappush(self._heap, (due, next(self._order), event))
            self._ready.notify()

    def _next_due(self) -> AsyncEvent | None:
        with self._ready:
            while not self.stop.is_set():
                if self._heap:
                    due = self._heap[0][0]
                    now = time.monotonic()
                    if due <= now:
                        return heapq.heappop(self._heap)[2]
                    self._ready.wait(min(due - now, 0.5))
                else:
                    self._ready.wait(0.5)
        return None

    def _run(self) -> None:
        while not self.stop.is_set():
            event = self._next_due()
            if event is None:
                return
            try:
                self._attempt(event)
            except Exception as exc:  # a worker must outlive one bad event
                self.log(self.source, f"async worker error: {type(exc).__name__}: {exc}")

    def _attempt(self, event: AsyncEvent) -> None:
        function = self.pool.function
        if event.hop.stopped(function.recursive_loop):
            self.log(
                self.source,
                f"recursive loop stopped  {describe_job(event.payload)}: it would be invocation "
                f"{event.hop.count} of {function.name} in one chain of requests (RecursiveLoop "
                f"{function.recursive_loop})",
            )
            self._discard(event, "RecursiveInvocationException")
            return
        if time.time() - event.received_at > self.config.max_event_age_seconds:
            self._discard(event, "EventAgeExceeded")
            return
        with self.pool.lease(self.stop) as env:
            if env is None:
                self._push(event, time.monotonic())  # stopping: keep it queued
                return
            event.attempts += 1
            attempt_id = event.request_id
            self.log(self.source, f"start  {describe_job(event.payload)} (try {event.attempts})")
            result = env.invoke(event.payload, request_id=attempt_id, trace=event.hop.trace)
        event.last_result = result
        if result.ok:
            self.log(self.source, f"returned {describe_job(event.payload)}")
            if self.config.on_success_arn:
                self._send(event, self.config.on_success_arn, "Success")
            return
        reason = "timed out" if result.timed_out else f"failed ({result.error_type})"
        retries_done = event.attempts - 1
        if retries_done < min(self.config.max_retry_attempts, len(RETRY_WAITS_SECONDS)):
            wait = RETRY_WAITS_SECONDS[retries_done] * self.retry_scale
            self.log(
                self.source,
                f"{reason} {describe_job(event.payload)}: Lambda retries in {wait:.1f} s",
            )
            self._push(event, time.monotonic() + wait)
            return
        self.log(self.source, f"{reason} {describe_job(event.payload)}: retries exhausted")
        self._discard(event, "RetriesExhausted")

    def _discard(self, event: AsyncEvent, condition: str) -> None:
        target = self.config.on_failure_arn
        if target is None:
            self.log(self.source, f"dropped {describe_job(event.payload)} ({condition})")
            return
        self._send(event, target, condition)
        self.log(self.source, f"sent {describe_job(event.payload)} to {target} ({condition})")

    def _send(self, event: AsyncEvent, target: str, condition: str) -> None:
        record = invocation_record(
            event,
            function_arn=self.pool.function.arn,
            condition=condition,
            timeout_seconds=self.pool.function.timeout_seconds,
        )
        self.destination(target, record)
