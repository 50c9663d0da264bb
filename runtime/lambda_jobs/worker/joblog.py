"""One structured JSON log line per job on stdout — never its arguments, never the whole event.

Lambda sends a function's stdout to CloudWatch Logs, one event per line, so one ``json.dumps``
line per job is queryable with Logs Insights (``filter outcome = "dead_lettered"``) at no cost
beyond the log bytes. Written with ``sys.stdout.write`` and flushed (not ``logging``, which the
runtime does not import on its success path). The line::

    {"type": "lambda_jobs.job", "level": "INFO", "backend": "goat", "id": "…",
     "task": "app.tasks.send_mail", "queue": "default", "attempt": 1, "max_attempts": 4,
     "outcome": "succeeded", "duration_ms": 12.5}

``outcome`` is one of :data:`OUTCOMES`: ``succeeded``, ``retrying`` (will run again after
``retry_in_s``), ``dead_lettered`` (in the DLQ, ``reason`` says why), ``handed_back`` (not started
near the deadline; runs in a later invocation) or ``dead_letter_failed`` (the DLQ send failed, so
the message was kept: it comes back and is dead-lettered then). With the job store on
(:mod:`lambda_jobs.worker.claims`) three more: ``skipped_duplicate`` (the job already finished,
or — Lamb — runs under a live lease in another invocation: acknowledged without running),
``cancelled`` (cancelled before it started: acknowledged without running) and ``deferred`` (Goat:
another attempt runs under a live lease; hidden for ``retry_in_s`` and listed, so it comes back
then). A store write that failed adds ``store_error`` (the job went on as without the store).
Failures add ``error_type``; Goat lines add ``message_id``; ``backend`` is ``LAMBDA_JOBS_BACKEND``
when set. ``id``/``task`` are null for a message that could not be decoded. ``level`` is INFO
(succeeded, handed_back, skipped_duplicate, cancelled, deferred), WARNING (retrying) or ERROR
(the rest, and any line whose follow-up AWS call failed: it adds ``aws_error`` or
``store_error``).

An attempt that ran as attempt 1 adds ``queue_latency_ms``: from when the job became due
(``run_after``, else ``enqueued_at``) to the attempt's start. Each line is also counted into the
invocation's CloudWatch metrics (:mod:`lambda_jobs.worker.metrics`).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Any

from lambda_jobs.worker import metrics

OUTCOMES = (
    "succeeded",
    "retrying",
    "dead_lettered",
    "handed_back",
    "dead_letter_failed",
    "skipped_duplicate",
    "cancelled",
    "deferred",
)
_LEVELS = {
    "succeeded": "INFO",
    "handed_back": "INFO",
    "skipped_duplicate": "INFO",
    "cancelled": "INFO",
    "deferred": "INFO",
    "retrying": "WARNING",
    "dead_lettered": "ERROR",
}


def job_line(
    *,
    job_id: str | None,
    task: str | None,
    queue: str | None,
    attempt: int | None,
    max_attempts: int | None,
    outcome: str,
    duration_ms: float,
    **extra: Any,
) -> dict[str, Any]:
    """The fields of one job's log line (``extra`` values that are None are left out)."""
    line: dict[str, Any] = {"type": "lambda_jobs.job", "level": _LEVELS.get(outcome, "ERROR")}
    backend = os.environ.get("LAMBDA_JOBS_BACKEND")
    if backend:
        line["backend"] = backend
    line.update(
        id=job_id,
        task=task,
        queue=queue,
        attempt=attempt,
        max_attempts=max_attempts,
        outcome=outcome,
        duration_ms=round(duration_ms, 1),
    )
    for key, value in extra.items():
        if value is not None:
            line[key] = value
    if "aws_error" in line or "store_error" in line:
        line["level"] = "ERROR"
    return line


#: Built once: ``json.dumps`` with options builds a new encoder on every call (~5 µs a line).
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def write(line: dict[str, Any]) -> None:
    """Print ``line`` as one JSON line and flush (a Lambda may be frozen right after)."""
    sys.stdout.write(_encode(line) + "\n")
    sys.stdout.flush()


def log_job(*, due_at: datetime | None = None, **fields: Any) -> None:
    """Build and write one job's line, and count it into the metrics; see :func:`job_line`.

    ``due_at`` is when the job became due (its envelope's ``run_after`` or ``enqueued_at``); it
    gives ``queue_latency_ms`` on the line of a first attempt that ran.
    """
    line = job_line(**fields)
    latency = None
    if due_at is not None and line["attempt"] == 1 and line["outcome"] != "handed_back":
        duration = fields["duration_ms"]
        if duration:
            latency = line["queue_latency_ms"] = metrics.queue_latency_ms(due_at, duration)
    write(line)
    metrics.observe(line, latency)
