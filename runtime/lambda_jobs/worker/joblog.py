"""One structured JSON log line per job on stdout — never its arguments, never the whole event.

Lambda sends a function's stdout to CloudWatch Logs, one event per line, so one JSON line per job
is queryable with Logs Insights (``filter outcome = "dead_lettered"``) at no cost beyond the log
bytes. Written with ``sys.stdout.write`` (not ``logging``, which the runtime does not import on
its success path). The line::

    {"type": "lambda_jobs.job", "level": "INFO", "backend": "goat", "id": "…",
     "task": "app.tasks.send_mail", "queue": "default", "attempt": 1, "max_attempts": 4,
     "outcome": "succeeded", "duration_ms": 12.5}

``outcome`` is one of :data:`lambda_jobs.worker.words.OUTCOMES`: ``succeeded``, ``retrying`` (will
run again after ``retry_in_s``), ``dead_lettered`` (in the DLQ, ``reason`` says why),
``handed_back`` (not started near the deadline; runs in a later invocation), ``limited`` (a
``Concurrency`` or ``Rate`` limit refused the start: ``limit`` names it, the job comes back after
``retry_in_s`` without using an attempt) or
``dead_letter_failed`` (the DLQ send failed, so the message was kept: it comes back and is
dead-lettered then). With the job store on (:mod:`lambda_jobs.jobstore.claims`) three more:
``skipped_duplicate`` (the job already finished, or — Lamb — runs under a live lease in another
invocation, or waits for its scheduled retry, which this delivery is not: ``retry_pending`` true;
acknowledged without running), ``cancelled`` (cancelled before it started: acknowledged without
running) and ``deferred`` (Goat: another attempt runs under a live lease; hidden for ``retry_in_s``
and listed, so it comes back then). A store write that failed adds ``store_error`` (the job went on
as without the store). Failures add ``error_type``; Goat lines add ``message_id``; ``backend`` is
``LAMBDA_JOBS_BACKEND`` when set. ``id``/``task`` are null for a message that could not be decoded.
``level`` is INFO (succeeded, handed_back, skipped_duplicate, cancelled, deferred), WARNING
(retrying) or ERROR (the rest, and any line whose follow-up AWS call failed: it adds ``aws_error``
or ``store_error``).

An attempt that ran as attempt 1 adds ``queue_latency_ms``: from when the job became due
(``run_after``, else ``enqueued_at``) to the attempt's start. Each line is also counted into the
invocation's CloudWatch metrics (:mod:`lambda_jobs.worker.metrics`).

When lines reach stdout. Outside an invocation (code calling
:func:`lambda_jobs.worker.dispatch.dispatch` directly) each line is written and flushed at once.
Inside one (:func:`lambda_jobs.handler.handle` calls :func:`begin` and :func:`end`) the lines are
held and written together, in one ``write`` with the invocation's metrics lines when it ends: in
Lambda every write is a system call (awslambdaric flushes stdout on each), and for a batch of
short jobs that call was the largest single cost of a job's line. A held line is never lost to
anything that lets Python run:

- the invocation ends (normally or with an exception): :func:`end` writes them;
- a job runs past its time limit (and may be killed by the function's own timeout after that):
  the ``SIGALRM`` handler writes them before it interrupts the job
  (:class:`~lambda_jobs.worker.timelimit.AlarmSession`), and again every half second while the
  job holds out;
- a job (or several) took :data:`HOLD_SECONDS` (0.1 s) or more since the last write: its line is
  written at once with those held, so lines are never late by more than that.

What can lose held lines is a process killed outright in a later job of the same invocation
(out of memory, a segfault, ``os._exit``), and only the lines of the jobs that finished less than
:data:`HOLD_SECONDS` before; Lambda then reports the invocation as failed, so on Goat the whole
batch comes back and those jobs run (and log) again.
"""

from __future__ import annotations

import os
import sys
from time import monotonic
from time import time as _time

from lambda_jobs import jsoncodec
from lambda_jobs.worker import metrics
from lambda_jobs.worker.words import (
    CANCELLED,
    DEAD_LETTERED,
    DEFERRED,
    HANDED_BACK,
    LIMITED,
    RETRYING,
    SKIPPED_DUPLICATE,
    SUCCEEDED,
)

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from lambda_jobs.worker.words import Outcome

_LEVELS = {
    SUCCEEDED: "INFO",
    HANDED_BACK: "INFO",
    SKIPPED_DUPLICATE: "INFO",
    CANCELLED: "INFO",
    DEFERRED: "INFO",
    LIMITED: "INFO",
    RETRYING: "WARNING",
    DEAD_LETTERED: "ERROR",
}
BACKEND_ENV = "LAMBDA_JOBS_BACKEND"
#: The outcomes that always follow an attempt that ran; ``dead_lettered`` and
#: ``dead_letter_failed`` follow one only when the job ran (its caller says so).
RAN_OUTCOMES = (SUCCEEDED, RETRYING)

#: Inside an invocation (:func:`begin` .. :func:`end`): ``LAMBDA_JOBS_BACKEND`` as read at
#: :func:`begin` ("" when unset), else None (read on every line).
_backend: str | None = None
#: Inside an invocation: the lines not written yet (see :func:`begin`), else None.
_pending: list[str] | None = None
#: When the lines held were last written (``time.monotonic()``).
_written_at = 0.0
#: Lines are held at most this long: a line that would wait longer is written with those held.
HOLD_SECONDS = 0.1


#: Built once: ``json.dumps`` with options builds a new encoder on every call (~5 µs a line).
_encode = jsoncodec.encoder(ensure_ascii=False, default=str)
_quote = jsoncodec.quote
#: The start of a line, by (backend, level): the same for every job of an invocation.
_heads: dict[tuple[str, str], str] = {}


def _head(backend: str, level: str) -> str:
    head = f'{{"type": "lambda_jobs.job", "level": "{level}", '
    if backend:
        head += f'"backend": {_quote(backend)}, '
    if len(_heads) < 64:
        _heads[backend, level] = head
    return head


def write(line: dict[str, Any]) -> None:
    """Write ``line`` as one JSON line (see :func:`begin` for when it reaches stdout)."""
    _emit(_encode(line) + "\n")


def _emit(text: str) -> None:
    pending = _pending
    if pending is None:
        out = sys.stdout
        out.write(text)
        out.flush()  # a Lambda may be frozen right after
        return
    pending.append(text)
    if monotonic() - _written_at >= HOLD_SECONDS:
        flush()


def log_job(  # noqa: PLR0917 - positional: one call per job, no keyword dict to build
    job_id: str | None,
    task: str | None,
    queue: str | None,
    attempt: int | None,
    max_attempts: int | None,
    outcome: Outcome,
    duration_ms: float,
    due_at: datetime | None = None,
    message_id: str | None = None,
    store_error: str | None = None,
    extra: dict[str, Any] | None = None,
    ran: bool | None = None,
) -> None:
    """Write one job's line (the module docstring lists its fields) and count it into the metrics.

    ``ran`` says whether an attempt ran (None: the outcome tells, :data:`RAN_OUTCOMES`); only an
    attempt that ran has a duration in ``JobDuration`` and a ``queue_latency_ms``, however short
    it was (0.0 ms included).

    ``due_at`` is when the job became due (its envelope's ``run_after`` or ``enqueued_at``); it
    gives ``queue_latency_ms`` on the line of a first attempt that ran. After ``duration_ms`` (ms,
    rounded to 0.1) the line has, when not None and in this order: ``store_error``,
    ``message_id`` (Goat), each of ``extra`` (the outcome's own fields), then
    ``queue_latency_ms``. The text is what ``json.dumps`` writes for those fields, written field
    by field: the handler's most frequent work, and half the cost of building a dict to encode.
    """
    if ran is None:
        ran = outcome in RAN_OUTCOMES
    latency = None
    if due_at is not None and attempt == 1 and ran:
        # From when the job became due to the start of the attempt that just ran.
        waited = (_time() - duration_ms / 1000 - due_at.timestamp()) * 1000
        latency = round(waited, 1) if waited > 0 else 0.0
    backend = _backend
    if backend is None:
        backend = os.environ.get(BACKEND_ENV) or ""
    if store_error is None and (extra is None or extra.get("aws_error") is None):
        level = _LEVELS.get(outcome, "ERROR")
    else:  # a follow-up call failed
        level = "ERROR"
    rounded = round(duration_ms, 1)
    head = _heads.get((backend, level)) or _head(backend, level)
    text = (
        f'{head}"id": {_json(job_id)}, "task": {_json(task)}, "queue": {_json(queue)}, '
        f'"attempt": {_json(attempt)}, "max_attempts": {_json(max_attempts)}, '
        f'"outcome": "{outcome}", "duration_ms": {_json(rounded)}'
    )
    if store_error is not None:
        text += f', "store_error": {_json(store_error)}'
    if message_id is not None:
        text += f', "message_id": {_json(message_id)}'
    if extra:
        for key, value in extra.items():
            if value is not None:
                text += f", {_quote(key)}: {_json(value)}"
    if latency is not None:
        text += f', "queue_latency_ms": {_json(latency)}'
    _emit(text + "}\n")
    metrics.count(outcome, backend, queue, task, rounded if ran else None, latency)


def _json(value: Any) -> str:
    """``value`` as the line's encoder writes it; a string or a number (every field, as a rule)
    without its call (it writes an int and a finite float as ``repr`` does)."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int or (kind is float and -_INF < value < _INF):
        return repr(value)
    return _encode(value)


_INF = float("inf")


def begin() -> None:
    """Start an invocation: read ``LAMBDA_JOBS_BACKEND`` once, hold the lines (see the module
    docstring) until :func:`end`."""
    global _backend, _pending, _written_at
    _backend = os.environ.get(BACKEND_ENV) or ""
    _pending = []
    _written_at = monotonic()


def flush() -> None:
    """Write the lines held so far (one ``write``); never raises (on an error they stay held)."""
    global _written_at
    pending = _pending
    if pending is None:
        return
    _written_at = monotonic()
    if not pending:
        return
    try:
        out = sys.stdout
        out.write("".join(pending))
        out.flush()
    except Exception:  # logging must never fail a job that already ran
        return
    pending.clear()


def end(tail: str = "") -> None:
    """End the invocation: write the lines held (and ``tail``, the metrics' lines) in one
    ``write``, then go back to writing each line at once; never raises."""
    global _backend, _pending
    if tail:
        if _pending is None:
            _pending = []
        _pending.append(tail)
    flush()
    _backend = _pending = None
