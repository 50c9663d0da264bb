"""What the enqueue client hands a sender, and how senders run requests and report failures.

The client (:mod:`lambda_jobs.enqueue.client`) validates and encodes every job into an
:class:`Outgoing` (envelope, JSON body, lane, delay, whether the scheduler carries it). A sender
(:mod:`lambda_jobs.enqueue.goat`, :mod:`lambda_jobs.enqueue.lamb`) turns those into AWS requests,
runs them with :func:`run_requests` and ends with :func:`raise_failures`: so both backends report
AWS errors the same way, as one :class:`~lambda_jobs.errors.EnqueueError` naming exactly the job ids
that were not sent (``job_ids``) and those that were (``sent_ids``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from lambda_jobs.aws import aws_errors
from lambda_jobs.errors import EnqueueError

if TYPE_CHECKING:
    from datetime import datetime

    from lambda_jobs.config import ClientConfig, Lane
    from lambda_jobs.envelope import Envelope

#: Requests one bulk enqueue keeps in flight (the shared boto3 client pools 32 connections).
MAX_PARALLEL_REQUESTS = 8


class Outgoing:
    """One validated job, ready for its sender. Immutable by contract.

    ``delay_seconds`` is the whole-second delay (rounded up: a job never starts early);
    ``via_scheduler`` says that an EventBridge Scheduler one-time schedule at ``run_at`` carries
    the job instead of a direct send; ``fifo`` says the lane is a FIFO queue, and
    ``message_group_id`` is its group there, or the job's tenant on a standard lane (None: none).
    """

    __slots__ = (
        "body",
        "delay_seconds",
        "envelope",
        "fifo",
        "lane",
        "message_group_id",
        "run_at",
        "via_scheduler",
    )

    def __init__(
        self,
        *,
        envelope: Envelope,
        body: str,
        lane: Lane,
        delay_seconds: int,
        run_at: datetime | None,
        via_scheduler: bool,
        message_group_id: str | None,
        fifo: bool = False,
    ) -> None:
        self.envelope = envelope
        self.fifo = fifo
        self.body = body
        self.lane = lane
        self.delay_seconds = delay_seconds
        self.run_at = run_at
        self.via_scheduler = via_scheduler
        self.message_group_id = message_group_id

    @property
    def job_id(self) -> str:
        return self.envelope.id


class SendOutcome:
    """Job ids a request got accepted (``sent``) and those it did not, with AWS's reason."""

    __slots__ = ("failed", "sent")

    def __init__(self, sent: list[str] | None = None, failed: dict[str, str] | None = None) -> None:
        self.sent: list[str] = sent if sent is not None else []
        self.failed: dict[str, str] = failed if failed is not None else {}

    def add(self, other: SendOutcome) -> None:
        self.sent.extend(other.sent)
        self.failed.update(other.failed)


class Request:
    """One AWS request (or a short sequence of them) for the jobs ``job_ids``.

    ``send`` returns the :class:`SendOutcome`; if it raises an AWS error instead (botocore has
    already retried), every job of the request counts as not sent, with that error as the reason.
    """

    __slots__ = ("job_ids", "send")

    def __init__(self, job_ids: list[str], send: Callable[[], SendOutcome]) -> None:
        self.job_ids = job_ids
        self.send = send


def schedule_requests(
    outgoing: list[Outgoing], config: ClientConfig, *, lamb: bool
) -> list[Request]:
    """One request per job that a one-time schedule carries (both backends schedule alike;
    ``lamb``: the target is a function, so the input is a Lamb delivery)."""
    scheduled = [item for item in outgoing if item.via_scheduler]
    if not scheduled:
        return []
    from lambda_jobs import aws

    scheduler = aws.client("scheduler", config)
    return [
        Request([item.job_id], partial(_schedule, scheduler, item, config, lamb))
        for item in scheduled
    ]


def _schedule(scheduler: Any, item: Outgoing, config: ClientConfig, lamb: bool) -> SendOutcome:
    from lambda_jobs.scheduling import one_time

    assert config.scheduler is not None and item.run_at is not None  # checked by the client
    one_time.create(
        scheduler,
        envelope=item.envelope,
        when=item.run_at,
        group=config.scheduler.group,
        role_arn=config.scheduler.role_arn,
        target_arn=item.lane.arn,
        lamb=lamb,
        dead_letter_arn=config.dead_letter_queue.arn if config.dead_letter_queue else None,
        # Scheduler's SqsParameters.MessageGroupId is the FIFO group: a scheduled job on a
        # standard lane arrives without its tenant (docs/guide/tasks.md, "Tenants").
        message_group_id=item.message_group_id if item.fifo else None,
    )
    return SendOutcome(sent=[item.job_id])


def _run(request: Request, errors: tuple[type[Exception], ...]) -> SendOutcome:
    try:
        return request.send()
    except errors as exc:
        return SendOutcome(failed=dict.fromkeys(request.job_ids, str(exc)))


def run_requests(requests: list[Request]) -> SendOutcome:
    """Run ``requests`` (in parallel when there are several) and merge their outcomes."""
    errors = aws_errors()
    total = SendOutcome()
    if len(requests) == 1:
        total.add(_run(requests[0], errors))
        return total
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_REQUESTS, len(requests))) as pool:
        for outcome in pool.map(lambda request: _run(request, errors), requests):
            total.add(outcome)
    return total


def raise_failures(outgoing: list[Outgoing], outcome: SendOutcome, backend: str) -> None:
    """Raise one :class:`EnqueueError` if any job of ``outgoing`` was not sent.

    ``job_ids`` and ``sent_ids`` keep the input order; ``errors`` maps each failed id to AWS's
    reason. A job neither reported sent nor failed (which a correct sender never leaves) counts as
    failed, so nothing is ever reported sent that was not.
    """
    sent = set(outcome.sent)
    failed = {
        item.job_id: outcome.failed.get(item.job_id, "no answer from the sender")
        for item in outgoing
        if item.job_id not in sent
    }
    if not failed:
        return
    sent_ids = [item.job_id for item in outgoing if item.job_id in sent]
    first_id, first_reason = next(iter(failed.items()))
    if len(outgoing) == 1:
        message = (
            f"job {first_id} ({outgoing[0].envelope.task}) was not enqueued to the {backend} "
            f"backend: {first_reason}"
        )
    else:
        message = (
            f"{len(failed)} of {len(outgoing)} jobs were not enqueued to the {backend} backend "
            f"(EnqueueError.job_ids names them, .sent_ids the {len(sent_ids)} sent); "
            f"first error, job {first_id}: {first_reason}"
        )
    raise EnqueueError(message, job_ids=list(failed), sent_ids=sent_ids, errors=failed)
