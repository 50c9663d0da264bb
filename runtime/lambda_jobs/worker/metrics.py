"""Job metrics as CloudWatch Embedded Metric Format (EMF): JSON lines on stdout, no API calls.

Lambda ships a function's stdout to CloudWatch Logs; a line shaped as EMF becomes metrics there
at no request cost and without boto3. The handler (:func:`lambda_jobs.handler.handle`) opens a
collection per invocation (:func:`begin`); :func:`lambda_jobs.worker.joblog.log_job` reports each
job's outcome to it (:func:`observe`); :func:`flush` then writes **one line per dimension set** for
the whole invocation (a Goat batch of 10 jobs on one queue is one line), so the per-record cost is a
dict lookup and two list appends.

Metrics, namespace ``LambdaJobs``:

- ``JobsSucceeded`` (Count): attempts that succeeded;
- ``JobsFailed`` (Count): attempts that ended in a failure (``retrying``, ``dead_lettered``,
  ``dead_letter_failed``);
- ``JobsRetried`` (Count): failed attempts that will run again (``retrying``);
- ``JobsDeadLettered`` (Count): jobs sent to the dead-letter queue;
- ``JobsHandedBack`` (Count): jobs not started near the deadline (run in a later invocation);
- ``JobDuration`` (Milliseconds): run time of each attempt that ran (one value per attempt);
- ``QueueLatency`` (Milliseconds): start of a first attempt minus when the job became due
  (``run_after`` if set, else ``enqueued_at``); first attempts only, so retry backoffs do not
  inflate it.

Dimensions are low-cardinality by default: ``backend`` (``LAMBDA_JOBS_BACKEND``, else
``unknown``) and ``queue`` (the envelope's; ``unknown`` for a body that could not be decoded).
``LAMBDA_JOBS_METRICS_TASK_DIMENSION=1`` adds ``task`` — one custom metric per task and metric
name, which CloudWatch bills ($0.30 per metric-month for the first 10,000): switch it on knowingly.
``LAMBDA_JOBS_METRICS=0`` switches metrics off (no EMF lines at all). Both are read at
:func:`begin`, so they can change between invocations.

Callers may rely on: nothing is collected or written outside ``begin``/``flush`` (code that calls
:func:`lambda_jobs.worker.dispatch.dispatch` directly sees job log lines only); :func:`flush` never
raises.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from typing import Any

NAMESPACE = "LambdaJobs"
ENABLED_ENV = "LAMBDA_JOBS_METRICS"
TASK_DIMENSION_ENV = "LAMBDA_JOBS_METRICS_TASK_DIMENSION"
UNKNOWN = "unknown"

COUNTERS = {
    "succeeded": ("JobsSucceeded",),
    "retrying": ("JobsFailed", "JobsRetried"),
    "dead_lettered": ("JobsFailed", "JobsDeadLettered"),
    "dead_letter_failed": ("JobsFailed",),
    "handed_back": ("JobsHandedBack",),
}
COUNTER_NAMES = ("JobsSucceeded", "JobsFailed", "JobsRetried", "JobsDeadLettered", "JobsHandedBack")
DURATION = "JobDuration"
LATENCY = "QueueLatency"
#: EMF allows at most 100 values per metric per line; further values of one invocation go to
#: another line of the same dimension set.
MAX_VALUES = 100

_FALSE = ("0", "false", "no", "off")

# The open collection: dimension values -> [counters, durations, latencies]; None when closed.
_open: dict[tuple[str, ...], list[Any]] | None = None
_task_dimension = False


def begin() -> None:
    """Start collecting for one invocation (a no-op when ``LAMBDA_JOBS_METRICS=0``)."""
    global _open, _task_dimension
    if os.environ.get(ENABLED_ENV, "1").strip().lower() in _FALSE:
        _open = None
        return
    _task_dimension = os.environ.get(TASK_DIMENSION_ENV, "").strip().lower() in ("1", "true", "yes")
    _open = {}


def observe(line: dict[str, Any], latency_ms: float | None) -> None:
    """Count one job log line (see :mod:`lambda_jobs.worker.joblog`) into the open collection."""
    collection = _open
    if collection is None:
        return
    names = COUNTERS.get(line.get("outcome", ""))
    if names is None:
        return
    backend = line.get("backend") or UNKNOWN
    queue = line.get("queue") or UNKNOWN
    key = (backend, queue, line.get("task") or UNKNOWN) if _task_dimension else (backend, queue)
    entry = collection.get(key)
    if entry is None:
        entry = collection[key] = [dict.fromkeys(COUNTER_NAMES, 0), [], []]
    counters = entry[0]
    for name in names:
        counters[name] += 1
    duration = line.get("duration_ms")
    if line["outcome"] != "handed_back" and duration:
        entry[1].append(duration)
    if latency_ms is not None:
        entry[2].append(latency_ms)


def queue_latency_ms(due_at: datetime | None, duration_ms: float) -> float | None:
    """Milliseconds from ``due_at`` to the start of an attempt that just ran for ``duration_ms``."""
    if due_at is None:
        return None
    started = time.time() - duration_ms / 1000
    return round(max(0.0, (started - due_at.timestamp()) * 1000), 1)


def documents(now_ms: int | None = None) -> list[dict[str, Any]]:
    """The EMF documents of the open collection (empty when closed or nothing ran)."""
    collection = _open
    if not collection:
        return []
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    dimension_names = ["backend", "queue", "task"] if _task_dimension else ["backend", "queue"]
    out = []
    for key, (counters, durations, latencies) in collection.items():
        chunks = max(1, -(-len(durations) // MAX_VALUES), -(-len(latencies) // MAX_VALUES))
        for chunk in range(chunks):
            metrics = [{"Name": name, "Unit": "Count"} for name in COUNTER_NAMES]
            doc: dict[str, Any] = dict(zip(dimension_names, key, strict=True))
            for name in COUNTER_NAMES:
                doc[name] = counters[name] if chunk == 0 else 0
            for name, values in ((DURATION, durations), (LATENCY, latencies)):
                part = values[chunk * MAX_VALUES : (chunk + 1) * MAX_VALUES]
                if part:
                    doc[name] = part
                    metrics.append({"Name": name, "Unit": "Milliseconds"})
            doc["_aws"] = {
                "Timestamp": stamp,
                "CloudWatchMetrics": [
                    {"Namespace": NAMESPACE, "Dimensions": [dimension_names], "Metrics": metrics}
                ],
            }
            out.append(doc)
    return out


def flush() -> None:
    """Write the open collection as EMF lines on stdout and close it; never raises."""
    global _open
    try:
        docs = documents()
        if docs:
            sys.stdout.write("".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in docs))
            sys.stdout.flush()
    except Exception:  # metrics must never fail a job that already ran
        pass
    finally:
        _open = None


def discard() -> None:
    """Close the open collection without writing it."""
    global _open
    _open = None
