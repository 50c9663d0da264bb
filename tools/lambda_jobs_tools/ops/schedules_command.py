"""``lambda-jobs schedules``: a backend's recurring schedules, and running one now.

``lambda-jobs schedules`` (or ``schedules list``) lists the recurring (``rate``/``cron``) schedules
of the backend's EventBridge Scheduler group (the ``JobSchedule``s the construct deployed): name,
expression, time zone, state, task, queue and the next three firings, computed with the same
evaluator the emulator fires them with (:mod:`lambda_jobs.recurrence`; a rate counts from its start
date, else from the schedule's creation). The group's one-time schedules (delayed jobs, ``lj-...``)
are left out: ``lambda-jobs status`` counts those.

``lambda-jobs schedules run NAME`` enqueues one job now with the schedule's task, arguments, queue
and priority, through the ordinary client (the same checks as ``enqueue()``): a one-off job with a
fresh id, not a firing (its context has no ``schedule_name``). It prints the job id.

Against ``lambda-jobs local`` started with ``--schedule-clock-scale F``, the next firings are
computed on the emulator's scaled clock (it publishes it in its moto, SSM parameter
``/lambda-jobs/local/schedule-clock``), the clock it fires them by; the command says so.

Works against ``lambda-jobs local`` (its moto server holds the stacks' schedules) and, unverified
here, against AWS (``scheduler:ListSchedules`` and ``scheduler:GetSchedule`` on the group).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import shared
from lambda_jobs_tools.ops.shared import OpsError

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig

FIRINGS = 3


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schedules",
        help="list the backend's recurring schedules (next firings), or run one now",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    shared.add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="list the recurring schedules (the default)")
    now = actions.add_parser("run", help="enqueue one job now with a schedule's task and arguments")
    now.add_argument("name", metavar="NAME", help="the schedule's name")
    for sub in (listing, now):
        # Also accepted after the action; SUPPRESS keeps a value given before it.
        sub.add_argument("--config", default=argparse.SUPPRESS, help="as above")
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="as above")
    parser.set_defaults(run=run)


@shared.command("schedules")
def run(args: argparse.Namespace) -> int:
    config = shared.load_config(args.config)
    if getattr(args, "action", None) == "run":
        return run_now(config, args.name)
    now, note = schedule_clock(config)
    rows = collect(config, now=now)
    if note:
        from lambda_jobs_tools.ops.tables import message

        message(note)
    if args.json:
        from lambda_jobs_tools.ops.tables import print_json

        print_json(rows)
        return shared.EXIT_OK
    from lambda_jobs_tools.ops.tables import message, print_table

    if not rows:
        message(f"no recurring schedules in group {_group(config)}")
        return shared.EXIT_OK
    print_table(
        f"recurring schedules of the {config.backend} backend (group {_group(config)})",
        ["name", "expression", "time zone", "state", "task", "queue", "next firings (UTC)"],
        [
            [
                row["name"],
                row["expression"],
                row["timezone"],
                row["state"],
                row["task"] or "?",
                row["queue"] or "?",
                "\n".join(row["next"]) or "none",
            ]
            for row in rows
        ],
    )
    return shared.EXIT_OK


def schedule_clock(config: ClientConfig) -> tuple[datetime, str | None]:
    """Now on the clock the schedules fire by, and a note when it is not real time.

    On AWS that is real time. ``lambda-jobs local --schedule-clock-scale F`` publishes its scaled
    clock (:data:`lambda_jobs_tools.emulator.scheduler.CLOCK_PARAMETER`); without it, real time.
    """
    real = datetime.now(UTC)
    if not shared.is_local(config):
        return real, None
    from lambda_jobs import aws

    from lambda_jobs_tools.emulator.scheduler import CLOCK_PARAMETER, clock_now

    try:
        published = aws.client("ssm", config).get_parameter(Name=CLOCK_PARAMETER)
        now, scale = clock_now(str(published["Parameter"]["Value"]), real)
    except Exception:
        return real, None  # an emulator without a scheduler (or an older one): real time
    if scale == 1.0:
        return real, None
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return now, (
        f"next firings are on lambda-jobs local's schedule clock ({scale:g} x real time, now "
        f"{stamp} on it): the clock the emulator fires them by"
    )


def _group(config: ClientConfig) -> str:
    if config.scheduler is None:
        raise OpsError(
            'this backend\'s configuration has no scheduler group ("scheduler": null), so it '
            "has no schedules"
        )
    return config.scheduler.group


def recurring_schedules(config: ClientConfig) -> list[dict[str, Any]]:
    """``GetSchedule`` of every recurring schedule of the backend's group, by name."""
    from lambda_jobs import aws
    from lambda_jobs.scheduling.one_time import ONE_TIME_PREFIX

    group = _group(config)
    client = aws.client("scheduler", config)
    found = []
    request: dict[str, Any] = {"GroupName": group}
    while True:
        response = client.list_schedules(**request)
        for summary in response.get("Schedules", []):
            name = str(summary.get("Name", ""))
            if name.startswith(ONE_TIME_PREFIX):
                continue
            detail = client.get_schedule(GroupName=group, Name=name)
            if str(detail.get("ScheduleExpression", "")).startswith(("rate(", "cron(")):
                found.append(detail)
        token = response.get("NextToken")
        if not token:
            return sorted(found, key=lambda d: str(d["Name"]))
        request["NextToken"] = token


def collect(config: ClientConfig, *, now: datetime) -> list[dict[str, Any]]:
    """One row per recurring schedule: its settings, its job and its next firings (ISO, UTC)."""
    from lambda_jobs.scheduling import expressions as recurrence

    rows = []
    for detail in recurring_schedules(config):
        job = _job(detail)
        timezone = str(detail.get("ScheduleExpressionTimezone") or "UTC")
        try:
            firings = recurrence.next_firings(
                str(detail["ScheduleExpression"]),
                timezone,
                after=now,
                count=FIRINGS,
                start=recurrence.as_datetime(detail.get("StartDate")),
                end=recurrence.as_datetime(detail.get("EndDate")),
                created=recurrence.as_datetime(detail.get("CreationDate")),
            )
            upcoming = [f.strftime("%Y-%m-%dT%H:%M:%SZ") for f in firings]
        except recurrence.RecurrenceError as exc:
            upcoming = [f"cannot evaluate: {exc}"]
        disabled = detail.get("State") == "DISABLED"
        rows.append(
            {
                "name": detail["Name"],
                "expression": detail["ScheduleExpression"],
                "timezone": timezone,
                "state": str(detail.get("State") or "ENABLED"),
                "task": job.get("task") if job else None,
                "queue": job.get("queue") if job else None,
                "target": (detail.get("Target") or {}).get("Arn"),
                "next": [] if disabled else upcoming,
            }
        )
    return rows


def _job(detail: dict[str, Any]) -> dict[str, Any] | None:
    """The ``job`` of a schedule's recurring delivery, or None if its input is not one."""
    from lambda_jobs.scheduling import recurring

    try:
        data = json.loads(str((detail.get("Target") or {}).get("Input") or ""))
    except ValueError:
        return None
    job = data.get("job") if recurring.is_delivery(data) else None
    return job if isinstance(job, dict) else None


def run_now(config: ClientConfig, name: str) -> int:
    """Enqueue the job of schedule ``name`` once, now; prints its id."""
    from lambda_jobs.backends import enqueue
    from lambda_jobs.job import prepare

    from lambda_jobs_tools.ops.enqueue_command import name_only_task
    from lambda_jobs_tools.ops.tables import message

    details = {str(d["Name"]): d for d in recurring_schedules(config)}
    detail = details.get(name)
    if detail is None:
        raise OpsError(
            f"no recurring schedule {name!r} in group {_group(config)} (it has: "
            f"{', '.join(sorted(details)) or 'none'})"
        )
    job = _job(detail)
    if job is None or not isinstance(job.get("task"), str):
        raise OpsError(f"schedule {name!r} does not deliver a lambda-jobs recurring job")
    args, kwargs = job.get("args") or [], job.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise OpsError(f"schedule {name!r} has malformed args/kwargs in its input")
    task = name_only_task(job["task"]).using(
        queue_name=str(job.get("queue") or "default"), priority=int(job.get("priority") or 0)
    )
    (sent,) = enqueue([prepare(task, tuple(args), kwargs)], config, single=True)
    print(sent.id)
    message(f"enqueued {sent.task_name} as {sent.id} on queue {sent.queue_name!r} (from {name})")
    return shared.EXIT_OK
