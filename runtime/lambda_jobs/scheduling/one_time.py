"""EventBridge Scheduler one-time schedules: how a job waits longer than SQS can hold it.

Both the enqueue client (delays over 900 s, any delay on a FIFO lane, every Lamb delay) and the Lamb
handler (retry backoff) create schedules here, so there is one place that knows the rules:
``at(yyyy-mm-ddThh:mm:ss)`` in UTC, ``FlexibleTimeWindow`` off, ``ActionAfterCompletion=DELETE``
(the schedule deletes itself after it fires), named after the job so that a retried create is
recognisable (``ConflictException`` means "already scheduled"), and the backend's dead-letter queue
as ``DeadLetterConfig``: AWS drops a firing it could not deliver once the retry policy is
exhausted unless the schedule has one ("Configuring a schedule's dead-letter queue in EventBridge
Scheduler", docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html; the
queue must be a standard queue, and the schedule's role needs ``sqs:SendMessage`` on it). A job
whose lane is gone when its schedule fires so lands in the DLQ, where ``lambda-jobs dlq`` shows it.
Cancelling a job deletes its pending schedule (:func:`delete`).

A Goat schedule targets the SQS queue with the envelope as the message body. A Lamb schedule
targets the function with a *scheduler delivery* (see :func:`lamb_delivery`), which the handler
recognises by shape.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lambda_jobs.envelope import Envelope

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

DELIVERY_SOURCE = "lambda_jobs.scheduler"
#: Every one-time schedule's name starts with this; recurring schedules (``JobSchedule``) in the
#: same group may not, so the two kinds are told apart by name.
ONE_TIME_PREFIX = "lj-"
#: EventBridge Scheduler's limit on a schedule target's ``Input`` (256 KB; "Quotas for Amazon
#: EventBridge Scheduler"), counted in UTF-8 bytes of the text sent
#: (:func:`lambda_jobs.jsoncodec.wire_size`).
MAX_INPUT_BYTES = 256 * 1024


def schedule_name(job_id: str, attempt: int) -> str:
    """Schedule names are unique per job attempt and fit the 64-character limit."""
    return f"{ONE_TIME_PREFIX}{job_id}-a{attempt}"[:64]


def at_expression(when: datetime) -> str:
    """``at(...)`` in UTC, whole seconds rounded up so a job never starts early."""
    utc = when.astimezone(UTC)
    if utc.microsecond:
        from datetime import timedelta

        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc.strftime('%Y-%m-%dT%H:%M:%S')})"


def lamb_delivery(envelope: Envelope) -> dict[str, Any]:
    """The event a Lamb schedule delivers to the function.

    The ``<aws.scheduler.*>`` placeholders are filled in by EventBridge Scheduler at delivery.
    """
    return {
        "source": DELIVERY_SOURCE,
        "schedule_arn": "<aws.scheduler.schedule-arn>",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "job": envelope.to_dict(),
    }


def is_lamb_delivery(event: Any) -> bool:
    """True for an event made by :func:`lamb_delivery`."""
    return isinstance(event, dict) and event.get("source") == DELIVERY_SOURCE and "job" in event


def target_input(envelope: Envelope, *, lamb: bool) -> str:
    """The exact ``Input`` text a schedule for ``envelope`` carries (the enqueue side sizes it).

    Written as every AWS input is (:func:`lambda_jobs.jsoncodec.wire_json`): non-ASCII
    characters unescaped, so Scheduler's limit counts the same bytes as the envelope's own size.
    """
    if not lamb:
        return envelope.to_json()
    from lambda_jobs import jsoncodec

    return jsoncodec.wire_json(lamb_delivery(envelope))


def checked_input(envelope: Envelope, *, lamb: bool, why: str = "") -> str:
    """:func:`target_input`, or :class:`~lambda_jobs.errors.InvalidJobError` naming its size and
    Scheduler's limit (:data:`MAX_INPUT_BYTES`) when it is over; ``why`` adds the caller's
    reason that a schedule carries the job and what to do."""
    from lambda_jobs.jsoncodec import wire_size

    text = target_input(envelope, lamb=lamb)
    size = wire_size(text)
    if size > MAX_INPUT_BYTES:
        from lambda_jobs.errors import InvalidJobError

        raise InvalidJobError(
            f"{envelope.task}: job {envelope.id} is {size:,} bytes as a schedule input, over "
            f"EventBridge Scheduler's limit of {MAX_INPUT_BYTES:,} bytes{why}"
        )
    return text


def create(
    scheduler_client: Any,
    *,
    envelope: Envelope,
    when: datetime,
    group: str,
    role_arn: str,
    target_arn: str,
    lamb: bool,
    dead_letter_arn: str | None,
    message_group_id: str | None = None,
) -> str:
    """Create the one-time schedule that delivers ``envelope`` at ``when``; returns its name.

    ``dead_letter_arn`` is the backend's (standard) dead-letter queue: the firing goes there if
    Scheduler cannot deliver it (None only where the caller has no queue to name).

    An already existing schedule of the same name (a retried request) counts as success. An
    input over Scheduler's limit raises before any request (:func:`checked_input`; the
    emulator's Scheduler does not enforce the limit, AWS's refuses with a ValidationException).
    """
    import contextlib

    name = schedule_name(envelope.id, envelope.attempt)
    text = checked_input(envelope, lamb=lamb)
    target: dict[str, Any] = {"Arn": target_arn, "RoleArn": role_arn, "Input": text}
    if message_group_id is not None:
        target["SqsParameters"] = {"MessageGroupId": message_group_id}
    if dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": dead_letter_arn}
    with contextlib.suppress(scheduler_client.exceptions.ConflictException):
        scheduler_client.create_schedule(
            Name=name,
            GroupName=group,
            ScheduleExpression=at_expression(when),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target=target,
        )
    return name


def delete(scheduler_client: Any, *, job_id: str, attempt: int, group: str) -> bool:
    """Delete the pending one-time schedule of attempt ``attempt`` of ``job_id``.

    True if it was there; False if there is none (it fired, or the job never had one). Other AWS
    errors are raised.
    """
    try:
        scheduler_client.delete_schedule(Name=schedule_name(job_id, attempt), GroupName=group)
    except scheduler_client.exceptions.ResourceNotFoundException:
        return False
    return True


def queue_arn_of_url(queue_url: str, *, like_arn: str) -> str:
    """The ARN of the SQS queue at ``queue_url`` in the partition and region of ``like_arn``.

    An SQS queue URL's path is ``/<account id>/<queue name>`` (``GetQueueUrl``, SQS API
    Reference) and its ARN ``arn:<partition>:sqs:<region>:<account id>:<queue name>`` (the
    pattern Scheduler's ``DeadLetterConfig.Arn`` takes, Scheduler API Reference). The Lamb
    handler names its dead-letter queue so, from ``LAMBDA_JOBS_DLQ_URL`` and its own function
    ARN (one stack: the same partition and region).
    """
    from urllib.parse import urlsplit

    account, _, name = urlsplit(queue_url).path.strip("/").rpartition("/")
    parts = like_arn.split(":")
    if not account or not name or len(parts) < 4:
        raise ValueError(f"cannot name the queue at {queue_url!r} as an ARN")
    return f"arn:{parts[1]}:sqs:{parts[3]}:{account.rpartition('/')[2]}:{name}"
