"""Recurring jobs: what a ``rate``/``cron`` schedule delivers, and the job each firing becomes.

A ``JobSchedule`` (``lambda_jobs_cdk``) becomes one EventBridge Scheduler schedule whose target
``Input`` is a *recurring delivery* (:func:`target_input`)::

    {"source": "lambda_jobs.recurring", "schedule": "nightly-report",
     "schedule_arn": "<aws.scheduler.schedule-arn>",
     "scheduled_time": "<aws.scheduler.scheduled-time>",
     "job": {"task": "app.tasks.rebuild_report", "args": [], "kwargs": {"full": true},
             "queue": "default", "priority": 0}}

Scheduler fills in the two ``<aws.scheduler.*>`` placeholders at each firing. Goat's lane queue
receives it as the message body, Lamb's lane function as the invoke payload; the worker's decoder
(:func:`lambda_jobs.worker.triage.decode_payload`) turns it into an ordinary
:class:`~lambda_jobs.envelope.Envelope` with :func:`envelope_of`, so a firing runs (retries,
backoff, timeout, DLQ, log line) like any job of its task.

The job id is derived from the schedule and its scheduled time (:func:`job_id`): Scheduler's own
retries of one firing carry the same body, so the same id, and a FIFO lane (content-based
deduplication) keeps one of them. The envelope's ``schedule`` field says which firing the job is;
it survives retries and hand-backs, and the task sees it in its
:class:`~lambda_jobs.context.JobContext`.

Pure standard library, light to import (the handler imports it when a firing arrives).
"""

from __future__ import annotations

from lambda_jobs import envelope as envelope_format
from lambda_jobs.envelope import Envelope, parse_time
from lambda_jobs.errors import EnvelopeError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

SOURCE = "lambda_jobs.recurring"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
#: Namespace of the firing job ids (uuid5 of ``<schedule ARN or name>|<scheduled time>``).
_NAMESPACE = "8d3f6f1e-5b7a-4c39-9a55-2f0f3c6e7b21"


def delivery(
    *,
    schedule: str,
    task: str,
    args: list[Any],
    kwargs: dict[str, Any],
    queue: str,
    priority: int,
) -> dict[str, Any]:
    """The recurring delivery of schedule ``schedule`` (placeholders still unfilled)."""
    return {
        "source": SOURCE,
        "schedule": schedule,
        "schedule_arn": SCHEDULE_ARN,
        "scheduled_time": SCHEDULED_TIME,
        "job": {
            "task": task,
            "args": list(args),
            "kwargs": dict(kwargs),
            "queue": queue,
            "priority": priority,
        },
    }


def target_input(**fields: Any) -> str:
    """The exact ``Input`` text of :func:`delivery` (compact JSON; raises on non-JSON values)."""
    import json  # the constructs' and the enqueue side's path, not the handler's cold start

    return json.dumps(
        delivery(**fields), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def is_delivery(data: Any) -> bool:
    """True for a decoded recurring delivery (a dict whose ``source`` is ``SOURCE``)."""
    return isinstance(data, dict) and data.get("source") == SOURCE


def job_id(schedule: str, scheduled_time: str) -> str:
    """The id of the job of one firing: the same for every delivery of that firing."""
    import uuid

    return str(uuid.uuid5(uuid.UUID(_NAMESPACE), f"{schedule}|{scheduled_time}"))


def envelope_of(data: dict[str, Any]) -> Envelope:
    """The job of one firing; any defect raises :class:`EnvelopeError` naming it."""
    name = data.get("schedule")
    if not isinstance(name, str) or not name:
        raise EnvelopeError(f"recurring delivery field 'schedule' must be a name, got {name!r}")
    arn = data.get("schedule_arn")
    arn = arn if isinstance(arn, str) and arn and arn != SCHEDULE_ARN else ""
    stamp = data.get("scheduled_time")
    scheduled = parse_time(stamp, "scheduled_time")  # refuses an unfilled placeholder too
    assert isinstance(stamp, str)
    job = data.get("job")
    if not isinstance(job, dict):
        raise EnvelopeError("recurring delivery field 'job' must be a JSON object")
    unknown = sorted(set(job) - {"task", "args", "kwargs", "queue", "priority"})
    if unknown:
        raise EnvelopeError(f"recurring delivery job has unknown fields: {', '.join(unknown)}")
    schedule = {"name": name, "scheduled_time": stamp}
    if arn:
        schedule["arn"] = arn
    return envelope_format.from_dict(
        {
            envelope_format.VERSION_KEY: envelope_format.VERSION,
            **job,
            "id": job_id(arn or name, stamp),
            "enqueued_at": scheduled.isoformat(),
            "attempt": 1,
            "schedule": schedule,
        }
    )
