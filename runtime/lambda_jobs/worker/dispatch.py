"""What the handler does with one event: recognise its shape and hand it to its backend.

- an SQS batch (``Records`` with ``eventSource: aws:sqs``) → :mod:`lambda_jobs.worker.goat` (Goat);
- an envelope (a JSON object with the ``lambda_jobs`` version key) → :mod:`lambda_jobs.worker.lamb`
  (Lamb async invoke);
- a scheduler delivery (``{"source": "lambda_jobs.scheduler", "job": ...}``) → the same, with
  ``event["job"]``;
- a recurring schedule's delivery (``{"source": "lambda_jobs.recurring", ...}``) → the same, whole
  (:mod:`lambda_jobs.scheduling.recurring`);
- anything else is logged (its type and top-level key names, never its content) and answered with
  ``{"error": ...}``; nothing is raised, so the process keeps serving.

A backend's module is imported when the first event of its shape arrives, and so are the modules
that only one shape needs (:mod:`lambda_jobs.scheduling.one_time` and
:mod:`lambda_jobs.scheduling.recurring` for a ``source`` event): a function runs one backend, so it
never loads the other one's code. The cold start imports the backend ``LAMBDA_JOBS_BACKEND`` names
ahead, in the init phase (:func:`lambda_jobs.worker.coldstart.load_backend`), so on Lambda these
imports find it loaded.
"""

from __future__ import annotations

from lambda_jobs.worker.joblog import write

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

    from lambda_jobs.worker.coldstart import Runtime


class _Invocation:
    """The invocation being handled; ``request_id`` is "" outside one."""

    __slots__ = ("request_id",)

    def __init__(self) -> None:
        self.request_id = ""


#: What a job may ask about the invocation running it: the Django backend's worker id is
#: ``current.request_id``, the Lambda request id the job store records per attempt too.
current = _Invocation()


def dispatch(event: Any, context: Any, runtime: Runtime) -> dict[str, Any]:
    """Route ``event`` to the backend that understands its shape (see the module docstring)."""
    current.request_id = str(getattr(context, "aws_request_id", "") or "")
    try:
        return _route(event, context, runtime)
    finally:
        current.request_id = ""


def _route(event: Any, context: Any, runtime: Runtime) -> dict[str, Any]:
    if isinstance(event, dict):
        if "Records" in event:  # the key of every event-source batch; Goat checks it is SQS's
            from lambda_jobs.worker import goat

            if goat.is_sqs_batch(event):
                return goat.handle_batch(event, context, runtime)
        from lambda_jobs.worker import lamb

        if lamb.is_async_payload(event):
            return lamb.handle_job(event, context, runtime)
        if "source" in event:
            from lambda_jobs.scheduling import one_time, recurring

            if one_time.is_lamb_delivery(event):
                return lamb.handle_job(event["job"], context, runtime)
            if recurring.is_delivery(event):
                return lamb.handle_job(event, context, runtime)
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
