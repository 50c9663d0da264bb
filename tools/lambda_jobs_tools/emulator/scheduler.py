"""EventBridge Scheduler, locally: fire the one-time and recurring schedules of the emulated groups.

moto stores schedules but never fires them. This poller lists the schedules of each group every
``interval`` seconds and fires each one when its time has come, delivering the target's ``Input``,
with the ``<aws.scheduler.schedule-arn>`` / ``<aws.scheduler.scheduled-time>`` placeholders filled
in, to:

- an SQS queue of the emulated stacks: ``SendMessage`` (with ``SqsParameters.MessageGroupId``;
  a FIFO queue without content-based deduplication gets the schedule's ARN and time as
  deduplication id);
- a function of the emulated stacks: an asynchronous invocation (with its retry policy).

Which times:

- ``at(...)``: once, in its ``ScheduleExpressionTimezone``; then the schedule is deleted when its
  ``ActionAfterCompletion`` is ``DELETE`` (lambda-jobs always sets it), else never fired again.
- ``rate(...)`` / ``cron(...)``: every firing :mod:`lambda_jobs.recurrence` computes (the same
  evaluator the constructs validate with), in the schedule's time zone, between its ``StartDate``
  and ``EndDate``; a rate counts from its start, else from when the poller first saw it (the
  emulator's start: on AWS, the deploy). A ``DISABLED`` schedule does not fire, and firings due
  while it was disabled are not made up when it is enabled again: it fires next at its first
  time after that. An ``UpdateSchedule`` (a new expression, time zone, dates or input; seen by
  its ``LastModificationDate``) takes effect from the next firing after it ("Changing the
  schedule state in EventBridge Scheduler", "UpdateSchedule", EventBridge Scheduler guides). With
  ``clock_scale`` F, recurring schedules run on a clock that goes F times faster than real time
  from the emulator's start (``--schedule-clock-scale 60`` makes ``rate(1 minute)`` fire every
  second), so a test sees many firings in seconds; one-time schedules keep real time.

A firing whose target is not emulated goes, as a dead-letter event, to the schedule's
``DeadLetterConfig`` queue if it has one (AWS sends those after its retry policy is exhausted;
locally there is nothing to retry). AWS fires within about a minute of the time; locally within
``interval`` (of the scaled clock, for recurring schedules).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lambda_jobs import aws
from lambda_jobs.config import ClientConfig
from lambda_jobs.scheduling import expressions as recurrence

from lambda_jobs_tools.emulator.console_log import JobLog, describe_job
from lambda_jobs_tools.emulator.topology import QueueSpec

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def due_time(expression: str, timezone: str | None) -> datetime | None:
    """The moment an ``at(...)`` expression fires, or None for any other expression."""
    match = _AT.match(expression.strip())
    if match is None:
        return None
    zone = recurrence.zone(timezone) if timezone else UTC
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)


def fill_placeholders(text: str, *, schedule_arn: str, scheduled_time: datetime) -> str:
    """Replace the Scheduler context attributes in a target ``Input``."""
    stamp = scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text.replace("<aws.scheduler.schedule-arn>", schedule_arn).replace(
        "<aws.scheduler.scheduled-time>", stamp
    )


#: The SSM parameter (in the emulator's moto, the stack's region) where the poller publishes its
#: recurring schedules' clock, ``{"origin": ISO 8601, "scale": F}``, so that
#: ``lambda-jobs schedules`` shows the next firings on the clock they fire by.
CLOCK_PARAMETER = "/lambda-jobs/local/schedule-clock"

#: Most firings of one recurring schedule delivered in one poll (a scaled clock may owe many).
MAX_FIRINGS_PER_POLL = 20


class ScaledClock:
    """Wall-clock time that runs ``scale`` times faster than real time from its creation."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.origin = datetime.now(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        if self.scale == 1.0:
            return datetime.now(UTC)
        elapsed = (time.monotonic() - self._started) * self.scale
        return self.origin + timedelta(seconds=elapsed)

    def to_json(self) -> str:
        return json.dumps({"origin": self.origin.isoformat(), "scale": self.scale})


def clock_now(published: str, real_now: datetime) -> tuple[datetime, float]:
    """(now on a published :class:`ScaledClock`, its scale), from its :data:`CLOCK_PARAMETER`."""
    data = json.loads(published)
    origin, scale = datetime.fromisoformat(data["origin"]), float(data["scale"])
    return origin + (real_now - origin) * scale, scale


class _Recurring:
    """What the poller keeps about one recurring schedule: its detail and its next firing."""

    __slots__ = ("created", "detail", "disabled", "modified", "next")

    def __init__(self, detail: dict[str, Any], now: datetime, modified: Any = None) -> None:
        self.detail = detail
        self.created = now
        self.modified = modified
        """The ``LastModificationDate`` this detail is from: a new one means an update."""
        self.disabled = detail.get("State") == "DISABLED"
        self.next = self._after(now - timedelta(microseconds=1))

    def advance(self) -> None:
        assert self.next is not None
        self.next = self._after(self.next)

    def update(self, detail: dict[str, Any], now: datetime, modified: Any) -> None:
        """An ``UpdateSchedule``: the new detail, from the first firing after ``now``."""
        self.detail = detail
        self.modified = modified
        self.next = self._after(now)

    def set_state(self, disabled: bool, now: datetime) -> None:
        """Seen ``DISABLED`` (or enabled again): no firing is owed for the disabled time."""
        if self.disabled and not disabled:
            self.next = self._after(now)
        self.disabled = disabled

    def _after(self, after: datetime) -> datetime | None:
        found = recurrence.next_firings(
            self.detail["ScheduleExpression"],
            self.detail.get("ScheduleExpressionTimezone") or "UTC",
            after=after,
            count=1,
            start=recurrence.as_datetime(self.detail.get("StartDate")),
            end=recurrence.as_datetime(self.detail.get("EndDate")),
            created=self.created,
        )
        return found[0] if found else None


class SchedulePoller:
    """Fires the schedules of ``groups``; :meth:`start`, then set ``stop``."""

    def __init__(
        self,
        groups: list[str],
        *,
        queues: dict[str, QueueSpec],
        invoke_async: Callable[[str, bytes], bool],
        moto: ClientConfig,
        log: JobLog,
        stop: threading.Event,
        interval: float = 0.5,
        clock_scale: float = 1.0,
        authorize: Callable[[str | None, str, str], str | None] | None = None,
    ) -> None:
        """``authorize(role ARN, action, resource)`` returns a denial message or None: the
        schedule's role must allow the target's send or invoke (``lambda-jobs local``'s IAM)."""
        self.groups = groups
        self.queues = queues
        """By queue ARN."""
        self.invoke_async = invoke_async
        """(function ARN, payload) -> False when no such function is emulated."""
        self.moto = moto
        self.scheduler = aws.client("scheduler", moto)
        self.sqs = aws.client("sqs", moto)
        self.log = log
        self.stop = stop
        self.interval = interval
        self.clock = ScaledClock(clock_scale)
        self.authorize = authorize
        self._known: dict[str, dict[str, Any] | None] = {}
        self._recurring: dict[str, _Recurring] = {}
        self._fired: set[str] = set()

    def start(self) -> threading.Thread:
        aws.client("ssm", self.moto).put_parameter(
            Name=CLOCK_PARAMETER, Value=self.clock.to_json(), Type="String", Overwrite=True
        )
        thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            for group in self.groups:
                try:
                    self.poll(group)
                except Exception as exc:  # keep firing the others
                    self.log("scheduler", f"group {group}: {type(exc).__name__}: {exc}")

    def poll(self, group: str) -> int:
        """Fire the due schedules of ``group`` now; returns how many firings were delivered."""
        fired = 0
        listed = self.scheduler.list_schedules(GroupName=group).get("Schedules") or []
        now = datetime.now(UTC)
        for summary in listed:
            arn = summary["Arn"]
            if arn in self._fired:
                continue
            if arn in self._recurring:
                fired += self._poll_recurring(group, summary, self._recurring[arn])
                continue
            if arn not in self._known:
                detail = self.scheduler.get_schedule(GroupName=group, Name=summary["Name"])
                expression = str(detail.get("ScheduleExpression", ""))
                if expression.startswith(("rate(", "cron(")):
                    self._recurring[arn] = recurring = self._track(detail, summary)
                    if not recurring.disabled:
                        fired += self._fire_recurring(recurring)
                    continue
                when = due_time(expression, detail.get("ScheduleExpressionTimezone"))
                if when is None:
                    self.log("scheduler", f"{summary['Name']}: {expression!r} is not run")
                self._known[arn] = None if when is None else {**detail, "_due": when}
            schedule = self._known[arn]
            if schedule is None or schedule.get("State") == "DISABLED" or schedule["_due"] > now:
                continue
            self._fire_once(group, schedule)
            fired += 1
        return fired

    def _poll_recurring(self, group: str, summary: dict[str, Any], tracked: _Recurring) -> int:
        """Follow an update or a state change of a tracked recurring schedule, then fire it."""
        now = self.clock.now()
        modified = summary.get("LastModificationDate")
        if modified != tracked.modified:
            detail = self.scheduler.get_schedule(GroupName=group, Name=summary["Name"])
            tracked.update(detail, now, modified)
            when = tracked.next.isoformat() if tracked.next else "never"
            self.log(
                "scheduler",
                f"{detail['Name']}: updated to {detail['ScheduleExpression']}"
                f" ({detail.get('State') or 'ENABLED'}), next at {when}",
            )
        tracked.set_state(summary.get("State") == "DISABLED", now)
        return 0 if tracked.disabled else self._fire_recurring(tracked)

    def _track(self, detail: dict[str, Any], summary: dict[str, Any]) -> _Recurring:
        tracked = _Recurring(detail, self.clock.now(), summary.get("LastModificationDate"))
        when = tracked.next.isoformat() if tracked.next else "never"
        self.log("scheduler", f"{detail['Name']}: {detail['ScheduleExpression']} first at {when}")
        return tracked

    def _fire_recurring(self, tracked: _Recurring) -> int:
        fired = 0
        now = self.clock.now()
        while tracked.next is not None and tracked.next <= now and fired < MAX_FIRINGS_PER_POLL:
            self._deliver(tracked.detail, tracked.next, now)
            fired += 1
            tracked.advance()
        return fired

    def _fire_once(self, group: str, schedule: dict[str, Any]) -> None:
        arn = schedule["Arn"]
        self._deliver(schedule, schedule["_due"], datetime.now(UTC))
        self._fired.add(arn)
        self._known.pop(arn, None)
        if schedule.get("ActionAfterCompletion") == "DELETE":
            with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
                self.scheduler.delete_schedule(GroupName=group, Name=schedule["Name"])
            # Deleted: a new schedule may reuse the name (and so the ARN) later.
            self._fired.discard(arn)

    def _deliver(self, schedule: dict[str, Any], scheduled_time: datetime, now: datetime) -> None:
        """Send one firing of ``schedule`` (due at ``scheduled_time``; ``now`` on its clock)."""
        arn = schedule["Arn"]
        target = schedule["Target"]
        text = fill_placeholders(
            str(target.get("Input", "")), schedule_arn=arn, scheduled_time=scheduled_time
        )
        late = (now - scheduled_time).total_seconds()
        queue = self.queues.get(target["Arn"])
        # The action follows the target's service, also for a target that no longer exists.
        action = (
            "sqs:SendMessage"
            if target["Arn"].split(":")[2:3] == ["sqs"]
            else "lambda:InvokeFunction"
        )
        denied = self.authorize and self.authorize(target.get("RoleArn"), action, target["Arn"])
        if denied:
            self._undeliverable(schedule, text, denied, code="AccessDenied")
        elif queue is not None:
            params: dict[str, Any] = {"QueueUrl": queue.url, "MessageBody": text}
            group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group_id:
                params["MessageGroupId"] = group_id
            if queue.fifo and not queue.content_based_deduplication:
                token = f"{arn}|{scheduled_time.isoformat()}"
                params["MessageDeduplicationId"] = hashlib.sha256(token.encode()).hexdigest()[:64]
            self.sqs.send_message(**params)
            self.log("scheduler", f"fired {describe_job(text)} -> {queue.name} ({late:.1f} s late)")
        elif self.invoke_async(target["Arn"], text.encode()):
            self.log(
                "scheduler", f"fired {describe_job(text)} -> {target['Arn']} ({late:.1f} s late)"
            )
        else:
            self._undeliverable(schedule, text, f"target {target['Arn']} is not emulated")

    def _undeliverable(
        self, schedule: dict[str, Any], text: str, why: str, code: str = "TargetNotFound"
    ) -> None:
        """A firing that cannot reach its target: to the dead-letter queue, else only logged.

        The schedule's role sends it there, so it needs ``sqs:SendMessage`` on the DLQ
        ("Configuring a schedule's dead-letter queue", EventBridge Scheduler User Guide)."""
        dlq = self.queues.get(((schedule["Target"].get("DeadLetterConfig") or {}).get("Arn")) or "")
        role = schedule["Target"].get("RoleArn")
        if dlq is not None and self.authorize and self.authorize(role, "sqs:SendMessage", dlq.arn):
            dlq = None
        if dlq is None:
            self.log("scheduler", f"{schedule['Name']}: {why}; firing dropped")
            return
        attributes = {
            "ERROR_CODE": code,
            "ERROR_MESSAGE": why,
            "SCHEDULE_ARN": schedule["Arn"],
            "TARGET_ARN": schedule["Target"]["Arn"],
        }
        self.sqs.send_message(
            QueueUrl=dlq.url,
            MessageBody=text,
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value}
                for key, value in attributes.items()
            },
        )
        self.log("scheduler", f"{schedule['Name']}: {why}; firing sent to {dlq.name}")
