"""EventBridge Scheduler, locally: fire due one-time schedules of the emulated groups.

moto stores schedules but never fires them. This poller lists the schedules of each group every
``interval`` seconds, and when an ``at(...)`` schedule's time has come (in its
``ScheduleExpressionTimezone``) it delivers the target's ``Input``, with the
``<aws.scheduler.schedule-arn>`` / ``<aws.scheduler.scheduled-time>`` placeholders filled in, to:

- an SQS queue of the emulated stacks: ``SendMessage`` (with ``SqsParameters.MessageGroupId``;
  a FIFO queue without content-based deduplication gets the schedule's ARN as deduplication id);
- a function of the emulated stacks: an asynchronous invocation (with its retry policy).

A fired schedule is deleted when its ``ActionAfterCompletion`` is ``DELETE`` (lambda-jobs always
sets it), else it is remembered and never fired again. AWS fires within about a minute of the
time; locally within ``interval``. Recurring (``rate``/``cron``) schedules are not run.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lambda_jobs import aws
from lambda_jobs.config import ClientConfig
from lambda_jobs.emulator.joblog import JobLog, describe_job
from lambda_jobs.emulator.topology import QueueSpec

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def due_time(expression: str, timezone: str | None) -> datetime | None:
    """The moment an ``at(...)`` expression fires, or None for any other expression."""
    match = _AT.match(expression.strip())
    if match is None:
        return None
    zone = ZoneInfo(timezone) if timezone and timezone != "UTC" else UTC
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)


def fill_placeholders(text: str, *, schedule_arn: str, scheduled_time: datetime) -> str:
    """Replace the Scheduler context attributes in a target ``Input``."""
    stamp = scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text.replace("<aws.scheduler.schedule-arn>", schedule_arn).replace(
        "<aws.scheduler.scheduled-time>", stamp
    )


class SchedulePoller:
    """Fires the one-time schedules of ``groups``; :meth:`start`, then set ``stop``."""

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
    ) -> None:
        self.groups = groups
        self.queues = queues
        """By queue ARN."""
        self.invoke_async = invoke_async
        """(function ARN, payload) -> False when no such function is emulated."""
        self.scheduler = aws.client("scheduler", moto)
        self.sqs = aws.client("sqs", moto)
        self.log = log
        self.stop = stop
        self.interval = interval
        self._known: dict[str, dict[str, Any] | None] = {}
        self._fired: set[str] = set()

    def start(self) -> threading.Thread:
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
        """Fire the due schedules of ``group`` now; returns how many fired."""
        fired = 0
        listed = self.scheduler.list_schedules(GroupName=group).get("Schedules") or []
        now = datetime.now(UTC)
        for summary in listed:
            arn = summary["Arn"]
            if arn in self._fired:
                continue
            if arn not in self._known:
                detail = self.scheduler.get_schedule(GroupName=group, Name=summary["Name"])
                when = due_time(
                    detail.get("ScheduleExpression", ""), detail.get("ScheduleExpressionTimezone")
                )
                if when is None:
                    self.log("scheduler", f"{summary['Name']}: only at(...) schedules are run")
                self._known[arn] = None if when is None else {**detail, "_due": when}
            schedule = self._known[arn]
            if schedule is None or schedule.get("State") == "DISABLED" or schedule["_due"] > now:
                continue
            self._fire(group, schedule)
            fired += 1
        return fired

    def _fire(self, group: str, schedule: dict[str, Any]) -> None:
        arn = schedule["Arn"]
        target = schedule["Target"]
        text = fill_placeholders(
            str(target.get("Input", "")), schedule_arn=arn, scheduled_time=schedule["_due"]
        )
        late = (datetime.now(UTC) - schedule["_due"]).total_seconds()
        queue = self.queues.get(target["Arn"])
        if queue is not None:
            params: dict[str, Any] = {"QueueUrl": queue.url, "MessageBody": text}
            group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group_id:
                params["MessageGroupId"] = group_id
            if queue.fifo and not queue.content_based_deduplication:
                params["MessageDeduplicationId"] = hashlib.sha256(arn.encode()).hexdigest()[:64]
            self.sqs.send_message(**params)
            self.log("scheduler", f"fired {describe_job(text)} -> {queue.name} ({late:.1f} s late)")
        elif self.invoke_async(target["Arn"], text.encode()):
            self.log(
                "scheduler", f"fired {describe_job(text)} -> {target['Arn']} ({late:.1f} s late)"
            )
        else:
            self.log("scheduler", f"{schedule['Name']}: target {target['Arn']} is not emulated")
        self._fired.add(arn)
        self._known.pop(arn, None)
        if schedule.get("ActionAfterCompletion") == "DELETE":
            with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
                self.scheduler.delete_schedule(GroupName=group, Name=schedule["Name"])
            # Deleted: a new schedule may reuse the name (and so the ARN) later.
            self._fired.discard(arn)
