"""Lamb enqueue: an asynchronous ``Invoke`` of the lane's function, or a schedule that invokes it.

- No delay: ``Invoke(FunctionName=<lane target>, InvocationType="Event", Payload=<envelope>)``;
  Lambda answers 202 once its own queue holds the event. Any other status is a failure.
- Any delay: an EventBridge Scheduler one-time schedule targeting the function ARN, whose input is
  a scheduler delivery wrapping the envelope
  (:func:`lambda_jobs.scheduling.one_time.lamb_delivery`).

Bulk is one request per job, run in parallel (Lambda has no batch invoke). AWS errors, after
botocore's retries, end in one :class:`~lambda_jobs.errors.EnqueueError` naming the jobs.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from lambda_jobs.enqueue.client import enqueue_jobs
from lambda_jobs.enqueue.outgoing import (
    Request,
    SendOutcome,
    raise_failures,
    run_requests,
    schedule_requests,
)

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.enqueue.outgoing import Outgoing
    from lambda_jobs.job import Job, PreparedJob

#: The status Lambda answers an accepted asynchronous invocation with.
ACCEPTED = 202


def send(outgoing: list[Outgoing], config: ClientConfig, single: bool = False) -> None:
    """Send every job of ``outgoing``; raise one EnqueueError naming any job not accepted.

    ``single`` changes nothing: Lambda has no batch invoke, every job is one ``Invoke``.
    """
    from lambda_jobs import aws

    requests: list[Request] = []
    direct = [item for item in outgoing if not item.via_scheduler]
    if direct:
        lambda_client = aws.client("lambda", config)
        for item in direct:
            requests.append(Request([item.job_id], partial(_invoke, lambda_client, item)))
    requests.extend(schedule_requests(outgoing, config, lamb=True))
    raise_failures(outgoing, run_requests(requests), "lamb")


def _invoke(lambda_client: Any, item: Outgoing) -> SendOutcome:
    response = lambda_client.invoke(
        FunctionName=item.lane.target,
        InvocationType="Event",
        Payload=item.body.encode(),
    )
    status = response.get("StatusCode")
    if status != ACCEPTED:
        return SendOutcome(
            failed={item.job_id: f"Lambda answered the Event invoke with {status}, not 202"}
        )
    return SendOutcome(sent=[item.job_id])


def enqueue(prepared: list[PreparedJob], config: ClientConfig, *, single: bool) -> list[Job]:
    """The Lamb backend's enqueue (:data:`lambda_jobs.backends.LAMB`): async invokes."""
    return enqueue_jobs(prepared, config, send, single=single)
