"""``lambda-jobs status``: what is waiting where, per queue lane, plus the dead-letter queue.

Per Goat lane (an SQS queue): visible, in flight and delayed messages
(``ApproximateNumberOfMessages``, ``...NotVisible``, ``...Delayed``), the age of the oldest
message, and the one-time schedules pending for it. The oldest age comes from CloudWatch's
``ApproximateAgeOfOldestMessage`` (maximum over the last 5 minutes); SQS has no API that gives it
without receiving (and so disturbing) messages, and ``lambda-jobs local`` has no CloudWatch, so
there it shows ``n/a``. Per Lamb lane (a function) only the pending schedules (delayed jobs and
retries waiting for their backoff) can be known: Lambda's internal async queue has no API. A
``(dead letters)`` row gives each dead-letter queue's depth: the DLQ, and on a Goat backend with
FIFO queues the FIFO crash-net DLQ their redrive policy moves crashed messages to (lane
``fifo crash net``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import shared

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig

NA = "n/a"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="messages waiting, in flight and delayed per queue lane; DLQ depth; pending schedules",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    shared.add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)


@shared.command("status")
def run(args: argparse.Namespace) -> int:
    config = shared.load_config(args.config)
    rows = collect(config)
    if args.json:
        from lambda_jobs_tools.ops.tables import print_json

        print_json(rows)
    else:
        from lambda_jobs_tools.ops.tables import print_table

        columns = ["queue", "lane", "target", "visible", "in flight", "delayed"]
        columns += ["oldest age", "scheduled"]
        print_table(
            f"lambda-jobs {config.backend} backend ({config.region or 'default region'})",
            columns,
            [[_cell(row.get(key)) for key in _KEYS] for row in rows],
        )
    return shared.EXIT_OK


_KEYS = (
    "queue",
    "lane",
    "target",
    "visible",
    "in_flight",
    "delayed",
    "oldest_age_s",
    "scheduled",
)


def _cell(value: Any) -> str:
    return NA if value is None else str(value)


def collect(config: ClientConfig) -> list[dict[str, Any]]:
    """One row per lane, then one for the DLQ; values that cannot be known are None."""
    scheduled = scheduled_by_target(config)
    sqs = shared.sqs(config)
    rows: list[dict[str, Any]] = []
    for queue, lane in shared.lanes(config):
        row: dict[str, Any] = {
            "queue": queue,
            "lane": f"{lane.min_priority}..{lane.max_priority}",
            "target": lane.target.rsplit("/", 1)[-1].rsplit(":", 1)[-1],
            "visible": None,
            "in_flight": None,
            "delayed": None,
            "oldest_age_s": None,
            "scheduled": scheduled.get(shared.unqualified_arn(lane.arn), 0)
            if scheduled is not None
            else None,
        }
        if config.backend == "goat":
            row.update(_queue_counts(sqs, lane.target))
            row["oldest_age_s"] = _oldest_age(config, row["target"])
        rows.append(row)
    for dlq in shared.dead_letter_queues(config):
        counts = _queue_counts(sqs, dlq.url)
        name = shared.queue_name(dlq.url)
        rows.append(
            {
                "queue": "(dead letters)",
                "lane": "fifo crash net" if dlq == config.fifo_dead_letter_queue else "",
                "target": name,
                **counts,
                "oldest_age_s": _oldest_age(config, name),
                "scheduled": None,
            }
        )
    return rows


def _queue_counts(sqs: Any, url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def _oldest_age(config: ClientConfig, queue_name: str) -> int | None:
    """CloudWatch's ApproximateAgeOfOldestMessage (seconds), None where it cannot be had."""
    if shared.is_local(config):
        return None
    from lambda_jobs import aws

    now = datetime.now(UTC)
    try:
        response = aws.client("cloudwatch", config).get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
    except Exception:
        return None  # no permission or no data: say n/a rather than fail the whole status
    points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return int(points[-1]["Maximum"]) if points else None


def scheduled_by_target(config: ClientConfig) -> dict[str, int] | None:
    """Pending one-time schedules of the backend's group, counted by target ARN.

    Recurring schedules (``lambda-jobs schedules``) share the group; they are not pending jobs.
    Only live schedules count: a fired one deletes itself, a cancelled job's is deleted by the
    cancel, and a ``DISABLED`` one never fires.
    """
    if config.scheduler is None:
        return None
    from lambda_jobs import aws
    from lambda_jobs.scheduling.one_time import ONE_TIME_PREFIX

    client = aws.client("scheduler", config)
    counts: dict[str, int] = {}
    kwargs: dict[str, Any] = {"GroupName": config.scheduler.group}
    while True:
        response = client.list_schedules(**kwargs)
        for schedule in response.get("Schedules", []):
            if not str(schedule.get("Name", "")).startswith(ONE_TIME_PREFIX):
                continue
            if schedule.get("State", "ENABLED") != "ENABLED":
                continue
            arn = shared.unqualified_arn(str(schedule.get("Target", {}).get("Arn", "")))
            counts[arn] = counts.get(arn, 0) + 1
        token = response.get("NextToken")
        if not token:
            return counts
        kwargs["NextToken"] = token
