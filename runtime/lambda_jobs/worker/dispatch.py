"""What the handler does with one event: recognise its shape and hand it to its backend.

- an SQS batch (``Records`` with ``eventSource: aws:sqs``) → :mod:`lambda_jobs.worker.goat` (Goat);
- an envelope (a JSON object with the ``lambda_jobs`` version key) → :mod:`lambda_jobs.worker.lamb`
  (Lamb async invoke);
- a scheduler delivery (``{"source": "lambda_jobs.scheduler", "job": ...}``) → the same, with
  ``event["job"]``;
- a recurring schedule's delivery (``{"source": "lambda_jobs.recurring", ...}``) → the same, whole
  (:mod:`lambda_jobs.recurring`);
- anything else is logged (its type and top-level key names, never its content) and answered with
  ``{"error": ...}``; nothing is raised, so the process keeps serving.
"""

from __future__ import annotations

from lambda_jobs import recurring, schedules
from lambda_jobs.worker.goat import handle_batch, is_sqs_batch
from lambda_jobs.worker.joblog import write
from lambda_jobs.worker.lamb import handle_job, is_async_payload

TYPE_CHECKING = False  # ``typing`` costs milliseconds at import: not on the cold-start path
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.worker.coldstart import Runtime


def dispatch(event: Any, context: Any, runtime: Runtime) -> dict[str, Any]:
    """Route ``event`` to the backend that understands its shape (see the module docstring)."""
    if is_sqs_batch(event):
        return handle_batch(event, context, runtime)
    if is_async_payload(event):
        return handle_job(event, context, runtime)
    if schedules.is_lamb_delivery(event):
        return handle_job(event["job"], context, runtime)
    if recurring.is_delivery(event):
        return handle_job(event, context, runtime)
    keys = sorted(str(key)[:64] for key in event)[:20] if isinstance(event, dict) else None
    message = (
        "lambda_jobs.handler received an event it does not recognise: expected an SQS batch, "
        "a lambda-jobs envelope, a scheduler delivery or a recurring schedule's delivery"
    )
    write(
        {
            "type": "lambda_jobs.unrecognised_event",
            "level": "ERROR",
            "event_type": type(event).__name__,
            "keys": keys,
            "message": message,
        }
    )
    return {"error": message, "event_type": type(event).__name__}
