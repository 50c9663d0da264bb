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
- ``JobsLimited`` (Count): starts a ``Concurrency`` or ``Rate`` limit refused (the job waits and
  comes back; docs/guide/limits.md); only in the lines of invocations that had some, so a backend
  without limits has no such metric;
- ``WorkflowsSucceeded`` / ``WorkflowsFailed`` (Count): workflows that ended ``succeeded`` /
  ``failed`` (docs/guide/workflows.md), each counted once, by the step delivery whose conditional
  write ended it, under that step's dimensions; only in the lines of invocations that ended some
  (a cancel ends a workflow in the client: not counted);
- ``JobDuration`` (Milliseconds): run time of each attempt that ran (one value per attempt, 0.0
  included: a job faster than the log's 0.1 ms resolution is a duration too);
- ``QueueLatency`` (Milliseconds): start of a first attempt minus when the job became due
  (``run_after`` if set, else ``enqueued_at``); first attempts only, so retry backoffs do not
  inflate it. It is the ``queue_latency_ms`` of the job's log line (computed there).

Dimensions are low-cardinality by default: ``backend`` (the backend's own name,
``LAMBDA_JOBS_METRICS_BACKEND``, which the constructs set to the backend's unique name so that two
backends of one account and region do not share metrics; else ``LAMBDA_JOBS_BACKEND``, else
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

import os
import sys
import time

from lambda_jobs import jsoncodec

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

NAMESPACE = "LambdaJobs"
ENABLED_ENV = "LAMBDA_JOBS_METRICS"
TASK_DIMENSION_ENV = "LAMBDA_JOBS_METRICS_TASK_DIMENSION"
BACKEND_NAME_ENV = "LAMBDA_JOBS_METRICS_BACKEND"
UNKNOWN = "unknown"

COUNTERS = {
    "succeeded": ("JobsSucceeded",),
    "retrying": ("JobsFailed", "JobsRetried"),
    "dead_lettered": ("JobsFailed", "JobsDeadLettered"),
    "dead_letter_failed": ("JobsFailed",),
    "handed_back": ("JobsHandedBack",),
    "limited": (),  # JobsLimited: only in documents that have some (LIMITED_COUNT)
    "workflow_succeeded": (),  # WorkflowsSucceeded / WorkflowsFailed: likewise (WORKFLOW_COUNTS)
    "workflow_failed": (),
}
COUNTER_NAMES = ("JobsSucceeded", "JobsFailed", "JobsRetried", "JobsDeadLettered", "JobsHandedBack")
#: Counted only where a limit refused a start, so a backend without limits pays for no metric.
LIMITED_COUNT = "JobsLimited"
#: Workflows ended, by the outcome counted for them; only in documents that have some.
WORKFLOW_COUNTS = {"workflow_succeeded": "WorkflowsSucceeded", "workflow_failed": "WorkflowsFailed"}
DURATION = "JobDuration"
LATENCY = "QueueLatency"
#: EMF allows at most 100 values per metric per line; further values of one invocation go to
#: another line of the same dimension set.
MAX_VALUES = 100

_FALSE = ("0", "false", "no", "off")

# The open collection: fields as logged (None, "" for unknown) -> [outcomes, durations,
# latencies, dimension values]; None when closed.
_open: dict[tuple[str | None, ...], list[Any]] | None = None
_task_dimension = False
_backend_name: str | None = None


def begin() -> None:
    """Start collecting for one invocation (a no-op when ``LAMBDA_JOBS_METRICS=0``)."""
    global _open, _task_dimension, _backend_name
    if os.environ.get(ENABLED_ENV, "1").strip().lower() in _FALSE:
        _open = None
        return
    _task_dimension = os.environ.get(TASK_DIMENSION_ENV, "").strip().lower() in ("1", "true", "yes")
    _backend_name = os.environ.get(BACKEND_NAME_ENV, "").strip() or None
    _open = {}


def collecting() -> bool:
    """True between :func:`begin` and :func:`flush` (or :func:`close`) when metrics are on."""
    return _open is not None


def observe(line: dict[str, Any], latency_ms: float | None) -> None:
    """Count one job log line (see :mod:`lambda_jobs.worker.joblog`) into the open collection."""
    count(
        line.get("outcome", ""),
        line.get("backend"),
        line.get("queue"),
        line.get("task"),
        line.get("duration_ms"),
        latency_ms,
    )


def count(  # noqa: PLR0917 - positional: the hot path, one call per job
    outcome: str,
    backend: str | None,
    queue: str | None,
    task: str | None,
    duration_ms: float | None,
    latency_ms: float | None,
) -> None:
    """Count one job's outcome (the fields of its log line) into the open collection.

    ``duration_ms`` is None when no attempt ran (a refusal, a duplicate); every attempt that ran
    is one ``JobDuration`` value, however short.

    The outcomes are kept as a list and tallied by :func:`documents` (once per invocation).
    """
    collection = _open
    if collection is None or outcome not in COUNTERS:
        return
    backend = _backend_name or backend
    key = (backend, queue, task) if _task_dimension else (backend, queue)
    entry = collection.get(key)
    if entry is None:
        entry = collection[key] = [[], [], [], tuple(value or UNKNOWN for value in key)]
    entry[0].append(outcome)
    if duration_ms is not None and outcome != "handed_back":  # 0.0 ms is a duration too
        entry[1].append(duration_ms)
    if latency_ms is not None:
        entry[2].append(latency_ms)


def _tally(outcomes: list[str]) -> dict[str, int]:
    """The counters of ``outcomes`` (by the distinct outcomes: usually one, ``succeeded``)."""
    counters = dict.fromkeys(COUNTER_NAMES, 0)
    for outcome in set(outcomes):
        found = outcomes.count(outcome)
        for name in COUNTERS[outcome]:
            counters[name] += found
    return counters


#: The metric definitions, shared by every document (they are only ever serialised).
_COUNT_DEFINITIONS = tuple({"Name": name, "Unit": "Count"} for name in COUNTER_NAMES)
_VALUE_DEFINITIONS = {name: {"Name": name, "Unit": "Milliseconds"} for name in (DURATION, LATENCY)}
_VALUE_DEFINITIONS[LIMITED_COUNT] = {"Name": LIMITED_COUNT, "Unit": "Count"}
for _name in WORKFLOW_COUNTS.values():
    _VALUE_DEFINITIONS[_name] = {"Name": _name, "Unit": "Count"}
#: The value metrics a document holds, by (has durations, has latencies).
_VALUE_NAMES = {
    (False, False): (),
    (True, False): (DURATION,),
    (False, True): (LATENCY,),
    (True, True): (DURATION, LATENCY),
}
#: The counters of a document after the first of a dimension set (its counts are in the first).
_NO_COUNTS = dict.fromkeys(COUNTER_NAMES, 0)


def _dimension_names() -> list[str]:
    return ["backend", "queue", "task"] if _task_dimension else ["backend", "queue"]


def _bodies() -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Each EMF document of the open collection without its ``_aws`` metadata, with the names of
    the value metrics it holds (the one definition of what the documents say)."""
    collection = _open
    if not collection:
        return []
    dimension_names = _dimension_names()
    if len(collection) == 1:  # the common case: one queue (and task), nothing to merge
        [(*values, dimensions)] = collection.values()
        by_dimensions = {dimensions: values}
    else:  # fields logged differently may be one dimension set (None and "" are "unknown")
        by_dimensions = {}
        for outcomes, durations, latencies, dimensions in collection.values():
            merged = by_dimensions.setdefault(dimensions, [[], [], []])
            merged[0] += outcomes
            merged[1] += durations
            merged[2] += latencies
    out = []
    for key, (outcomes, durations, latencies) in by_dimensions.items():
        counters = _tally(outcomes)
        chunk = 0
        while True:  # one document per MAX_VALUES values (at least one)
            body: dict[str, Any] = dict(zip(dimension_names, key, strict=True))
            body.update(counters if chunk == 0 else _NO_COUNTS)
            part = durations[chunk : chunk + MAX_VALUES]
            if part:
                body[DURATION] = part
            other = latencies[chunk : chunk + MAX_VALUES]
            if other:
                body[LATENCY] = other
            names = _VALUE_NAMES[bool(part), bool(other)]
            if chunk == 0 and "limited" in outcomes:
                body[LIMITED_COUNT] = outcomes.count("limited")
                names = (*names, LIMITED_COUNT)
            for outcome, name in WORKFLOW_COUNTS.items():
                if chunk == 0 and outcome in outcomes:
                    body[name] = outcomes.count(outcome)
                    names = (*names, name)
            out.append((body, names))
            chunk += MAX_VALUES
            if chunk >= len(durations) and chunk >= len(latencies):
                break
    return out


def _directives(value_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """``_aws.CloudWatchMetrics`` of a document holding the counters and ``value_names``."""
    metrics = [*_COUNT_DEFINITIONS, *(_VALUE_DEFINITIONS[name] for name in value_names)]
    return [{"Namespace": NAMESPACE, "Dimensions": [_dimension_names()], "Metrics": metrics}]


def documents(now_ms: int | None = None) -> list[dict[str, Any]]:
    """The EMF documents of the open collection (empty when closed or nothing ran)."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    return [
        {**body, "_aws": {"Timestamp": stamp, "CloudWatchMetrics": _directives(names)}}
        for body, names in _bodies()
    ]


_encode = jsoncodec.encoder(separators=(",", ":"))
#: ``_directives`` as JSON text, by (task dimension, value names): the same few for every
#: invocation, and the largest part of a document to encode.
_directive_texts: dict[tuple[bool, tuple[str, ...]], str] = {}


def _directive_text(value_names: tuple[str, ...]) -> str:
    key = (_task_dimension, value_names)
    text = _directive_texts.get(key)
    if text is None:
        text = _directive_texts[key] = _encode(_directives(value_names))
    return text


def close(now_ms: int | None = None) -> str:
    """Close the open collection and return its EMF lines (text, "" if none); never raises.

    The text is what encoding :func:`documents` gives (the tests pin it), written with the
    ``_aws`` metadata's directives encoded once per shape rather than once per invocation.
    """
    global _open
    try:
        bodies = _bodies()
        if not bodies:
            return ""
        stamp = int(time.time() * 1000) if now_ms is None else now_ms
        return "".join(
            f'{_encode(body)[:-1]},"_aws":{{"Timestamp":{stamp},'
            f'"CloudWatchMetrics":{_directive_text(names)}}}}}\n'
            for body, names in bodies
        )
    except Exception:  # metrics must never fail a job that already ran
        return ""
    finally:
        _open = None


def flush() -> None:
    """Write the open collection as EMF lines on stdout and close it; never raises."""
    text = close()
    if text:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except Exception:  # metrics must never fail a job that already ran
            pass


def discard() -> None:
    """Close the open collection without writing it."""
    global _open
    _open = None
