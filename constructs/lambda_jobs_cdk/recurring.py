"""``JobSchedule``: a recurring job (cron or rate), and the EventBridge Scheduler schedule of it.

Give schedules to either backend (``schedules=[JobSchedule(...)]``). Each becomes one
``AWS::Scheduler::Schedule`` in the backend's schedule group, targeting the lane of its queue and
priority: Goat sends the lane queue a message (``SqsParameters.MessageGroupId`` = the schedule name
on a FIFO lane, so firings of one schedule run one at a time, in order); Lamb invokes the lane
function asynchronously. ``FlexibleTimeWindow`` is ``OFF`` (fire at the time), the retry policy is
the schedule's ``retry_attempts`` and ``max_event_age``, and Scheduler's own dead-letter config
points at the backend's (standard) dead-letter queue, so a firing Scheduler could not deliver is not
silent. The target ``Input`` is a recurring delivery (:mod:`lambda_jobs.scheduling.recurring`) that
the handler turns into an ordinary job of the task, with an id derived from the firing.

Scheduler's SQS target sets no ``MessageDeduplicationId`` (``SqsParameters`` holds only
``MessageGroupId``); a FIFO lane has content-based deduplication on, and Scheduler's retries of one
firing carry the same body (same schedule ARN and time), so SQS keeps one of them: deduplication by
the firing's job id. A standard queue and Lamb have no such step (at-least-once,
docs/guide/recurring.md).

Rules followed here, from the EventBridge Scheduler User Guide: "Schedule types in EventBridge
Scheduler" (expressions, time zones, daylight-saving time; parsed by
:mod:`lambda_jobs.scheduling.expressions`, the same module the emulator evaluates them with),
"Configuring a schedule's dead-letter queue" (a standard queue, never FIFO; the execution role needs
``sqs:SendMessage`` on it), the ``CreateSchedule`` API reference (names ``[0-9a-zA-Z-_.]{1,64}``,
description up to 512 characters, retries 0..185, event age 60..86400 s, input up to 256 KB).

Everything is checked while the construct is built (:class:`JobBackendConfigError` naming the prop
and what it accepts): the schedule's own props in :class:`JobSchedule`, what depends on the backend
(task module, queue, unique names) in :func:`check_schedules`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_scheduler as scheduler
from lambda_jobs.contract import MAX_PRIORITY, MIN_PRIORITY
from lambda_jobs.enqueue.arguments import check_arguments
from lambda_jobs.errors import InvalidJobError
from lambda_jobs.scheduling import expressions, recurring
from lambda_jobs.scheduling.one_time import MAX_INPUT_BYTES, ONE_TIME_PREFIX

from lambda_jobs_cdk.validation import JobBackendConfigError, check_range

if TYPE_CHECKING:
    from lambda_jobs_cdk.job_backend import JobBackend

NAME_PATTERN = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")
"""EventBridge Scheduler's schedule names (``CreateSchedule`` ``Name``)."""
RESERVED_PREFIX = ONE_TIME_PREFIX
"""One-time schedules of delayed jobs are named ``lj-<job id>-a<attempt>`` in the same group."""
MAX_DESCRIPTION = 512
MAX_RETRY_ATTEMPTS = 185
DEFAULT_RETRY_ATTEMPTS = 185
MIN_EVENT_AGE_SECONDS = 60
MAX_EVENT_AGE_SECONDS = 86_400
DEFAULT_MAX_EVENT_AGE = Duration.hours(24)
INPUT_MARGIN_BYTES = 1024
"""Room left in the 256 KB input for what Scheduler fills in (the schedule ARN, the time)."""


class JobSchedule:
    """A recurring job: ``task`` with these arguments, at every firing of ``cron`` or ``rate``.

    :param name: the schedule's name, unique in the backend: 1-64 of ``[0-9a-zA-Z_.-]``, not
        starting with ``lj-`` (reserved for delayed jobs' one-time schedules). Required.
    :param task: the task's registered name (``module.function``); its module must be one of
        ``JobCode(tasks=[...])``'s modules. Required.
    :param cron: AWS's six-field cron, ``"0 3 * * ? *"`` or ``"cron(0 3 * * ? *)"``.
    :param rate: ``"5 minutes"`` or ``"rate(5 minutes)"``. Exactly one of ``cron`` and ``rate``.
    :param timezone: IANA time zone the expression is evaluated in. Default ``"UTC"``.
    :param args: positional arguments (JSON values). Default none.
    :param kwargs: keyword arguments (JSON values). Default none.
    :param queue_name: the backend queue the jobs go to. Default ``"default"``.
    :param priority: -100..100; picks the lane. Default 0.
    :param enabled: ``False`` deploys the schedule ``DISABLED``. Default ``True``.
    :param start: aware ``datetime`` before which it never fires (a rate counts from it). Default
        none (a rate fires once at deploy, then every interval).
    :param end: aware ``datetime`` after which it never fires. Default none.
    :param description: up to 512 characters. Default none.
    :param retry_attempts: Scheduler's retries of a firing it could not deliver, 0..185.
        Default 185.
    :param max_event_age: how long Scheduler keeps retrying one firing, 60 s..24 h. Default 24 h.

    Attributes callers may rely on: every parameter by its name, plus ``expression`` (the full
    ``cron(...)``/``rate(...)`` text).
    """

    def __init__(
        self,
        name: str,
        *,
        task: str,
        cron: str | None = None,
        rate: str | None = None,
        timezone: str = "UTC",
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        queue_name: str = "default",
        priority: int = 0,
        enabled: bool = True,
        start: datetime | None = None,
        end: datetime | None = None,
        description: str | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration | None = None,
    ) -> None:
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise JobBackendConfigError(
                f"JobSchedule name {name!r} must be 1-64 of letters, digits, '_', '.', '-' "
                "(EventBridge Scheduler's schedule names)"
            )
        if name.startswith(RESERVED_PREFIX):
            raise JobBackendConfigError(
                f"JobSchedule name {name!r} must not start with {RESERVED_PREFIX!r} (reserved for "
                "the one-time schedules of delayed jobs in the same schedule group)"
            )
        where = f"JobSchedule {name!r}"
        self.name = name
        if not isinstance(task, str) or "." not in task.strip(".") or " " in task:
            raise JobBackendConfigError(
                f"{where} task must be a task's dotted name, e.g. 'app.tasks.rebuild_report', "
                f"got {task!r}"
            )
        self.task = task
        self.cron, self.rate = cron, rate
        self.expression = _expression(where, cron, rate)
        self.timezone = timezone
        try:
            expressions.zone(timezone)
        except expressions.RecurrenceError as exc:
            raise JobBackendConfigError(f"{where} timezone: {exc}") from None
        if isinstance(args, str) or not isinstance(args, Sequence):
            raise JobBackendConfigError(f"{where} args must be a list of JSON values")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise JobBackendConfigError(f"{where} kwargs must be a dict of JSON values")
        self.args = list(args)
        self.kwargs = dict(kwargs or {})
        try:
            check_arguments(task, tuple(self.args), self.kwargs)
        except InvalidJobError as exc:
            raise JobBackendConfigError(f"{where} args/kwargs: {exc}") from None
        if not isinstance(queue_name, str) or not queue_name:
            raise JobBackendConfigError(f"{where} queue_name must be a queue name string")
        self.queue_name = queue_name
        check_range(f"{where} priority", priority, MIN_PRIORITY, MAX_PRIORITY, required=True)
        self.priority = priority
        if not isinstance(enabled, bool):
            raise JobBackendConfigError(f"{where} enabled must be True or False, got {enabled!r}")
        self.enabled = enabled
        self.start = _moment(where, "start", start)
        self.end = _moment(where, "end", end)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise JobBackendConfigError(
                f"{where} end ({self.end.isoformat()}) must be after start "
                f"({self.start.isoformat()})"
            )
        if description is not None and (
            not isinstance(description, str) or len(description) > MAX_DESCRIPTION
        ):
            raise JobBackendConfigError(
                f"{where} description must be a string of at most {MAX_DESCRIPTION} characters"
            )
        self.description = description
        check_range(
            f"{where} retry_attempts",
            retry_attempts,
            0,
            MAX_RETRY_ATTEMPTS,
            required=True,
            why=" (EventBridge Scheduler's MaximumRetryAttempts)",
        )
        self.retry_attempts = retry_attempts
        self.max_event_age = max_event_age if max_event_age is not None else DEFAULT_MAX_EVENT_AGE
        check_range(
            f"{where} max_event_age",
            self.max_event_age,
            MIN_EVENT_AGE_SECONDS,
            MAX_EVENT_AGE_SECONDS,
            seconds=True,
            why=" (EventBridge Scheduler's MaximumEventAgeInSeconds)",
        )
        size = len(self.target_input().encode())
        if size + INPUT_MARGIN_BYTES > MAX_INPUT_BYTES:
            raise JobBackendConfigError(
                f"{where} args/kwargs make a schedule input of {size} bytes; EventBridge "
                f"Scheduler accepts {MAX_INPUT_BYTES} bytes, less {INPUT_MARGIN_BYTES} kept for "
                "the ARN and time it fills in. Pass a key to data stored elsewhere (S3, DynamoDB)"
            )

    def __repr__(self) -> str:
        return f"JobSchedule({self.name!r}, task={self.task!r}, {self.expression!r})"

    def target_input(self) -> str:
        """The target ``Input``: this schedule's delivery (:mod:`.scheduling.recurring`)."""
        return recurring.target_input(
            schedule=self.name,
            task=self.task,
            args=self.args,
            kwargs=self.kwargs,
            queue=self.queue_name,
            priority=self.priority,
        )


def _expression(where: str, cron: str | None, rate: str | None) -> str:
    if (cron is None) == (rate is None):
        raise JobBackendConfigError(
            f"{where} needs exactly one of cron= (e.g. cron='0 3 * * ? *') and rate= "
            "(e.g. rate='5 minutes')"
        )
    prop, value, kind = ("cron", cron, "cron") if cron is not None else ("rate", rate, "rate")
    if not isinstance(value, str):
        raise JobBackendConfigError(f"{where} {prop} must be a string, got {value!r}")
    text = value.strip()
    if not text.startswith(f"{kind}("):
        text = f"{kind}({text})"
    try:
        expressions.parse(text)
    except expressions.RecurrenceError as exc:
        raise JobBackendConfigError(f"{where} {prop}: {exc}") from None
    return text


def _moment(where: str, prop: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise JobBackendConfigError(
            f"{where} {prop} must be an aware datetime (with tzinfo), got {value!r}"
        )
    return value.astimezone(UTC)


def check_schedules(backend: JobBackend, schedules: Sequence[JobSchedule]) -> None:
    """Refuse schedules that do not fit ``backend``: duplicate names, task modules, queues."""
    seen: set[str] = set()
    queues = {queue.name for queue in backend.queues}
    for schedule in schedules:
        if not isinstance(schedule, JobSchedule):
            raise JobBackendConfigError(
                f"schedules must hold JobSchedule objects, got {schedule!r}"
            )
        where = f"JobSchedule {schedule.name!r}"
        if schedule.name in seen:
            raise JobBackendConfigError(f"{where}: schedule names must be unique in a backend")
        seen.add(schedule.name)
        module = schedule.task.rsplit(".", 1)[0]
        if module not in backend.code.tasks:
            raise JobBackendConfigError(
                f"{where} task {schedule.task!r}: its module {module!r} is not one of JobCode's "
                f"task modules ({', '.join(backend.code.tasks)}); only tasks those modules "
                "register can run"
            )
        if schedule.queue_name not in queues:
            raise JobBackendConfigError(
                f"{where} queue_name {schedule.queue_name!r} is not a queue of this backend "
                f"(queues: {', '.join(sorted(queues))})"
            )
    _check_names_in_stack(backend, seen)


def _check_names_in_stack(backend: JobBackend, names: set[str]) -> None:
    """Refuse a name another backend of the same stack already gives a schedule.

    CloudFormation's schema of ``AWS::Scheduler::Schedule`` makes ``Name`` alone its primary
    identifier (cfn-lint E3019 rejects two in a template), although Scheduler itself scopes
    names by group: names must be unique in a stack, not only in a backend.
    """
    from lambda_jobs_cdk.job_backend import JobBackend

    stack = Stack.of(backend)
    for other in stack.node.find_all():
        if other is backend or not isinstance(other, JobBackend) or Stack.of(other) is not stack:
            continue
        for name in sorted(names & {schedule.name for schedule in other.schedules}):
            raise JobBackendConfigError(
                f"JobSchedule {name!r}: backend {other.node.path} of the same stack has a "
                "schedule of that name; CloudFormation identifies AWS::Scheduler::Schedule by "
                "Name alone, so schedule names must be unique in a stack"
            )


def provision_schedules(backend: JobBackend, schedules: Sequence[JobSchedule]) -> list[Any]:
    """One ``CfnSchedule`` per schedule, in the backend's group; returns them (in order).

    The scheduler role already reaches the lanes and the dead-letter queue (the backend grants
    both, for one-time schedules too).
    """
    if not schedules:
        return []
    created = []
    for schedule in schedules:
        arn, fifo = backend.schedule_target(schedule.queue_name, schedule.priority)
        target = scheduler.CfnSchedule.TargetProperty(
            arn=arn,
            role_arn=backend.scheduler_role.role_arn,
            input=schedule.target_input(),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=schedule.retry_attempts,
                maximum_event_age_in_seconds=int(schedule.max_event_age.to_seconds()),
            ),
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                arn=backend.dead_letter_queue.queue_arn
            ),
            # FIFO: firings of one schedule form one message group (one at a time, in order).
            sqs_parameters=(
                scheduler.CfnSchedule.SqsParametersProperty(message_group_id=schedule.name)
                if fifo
                else None
            ),
        )
        resource = scheduler.CfnSchedule(
            backend,
            f"Schedule-{schedule.name}",
            name=schedule.name,
            group_name=backend.schedule_group_name,
            schedule_expression=schedule.expression,
            schedule_expression_timezone=schedule.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if schedule.enabled else "DISABLED",
            description=schedule.description,
            start_date=_stamp(schedule.start),
            end_date=_stamp(schedule.end),
            target=target,
        )
        # The group must exist, and the role be allowed to deliver, before the first firing.
        resource.node.add_dependency(backend.schedule_group)
        resource.node.add_dependency(backend.scheduler_role)
        created.append(resource)
    return created


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
