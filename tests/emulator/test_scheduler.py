"""One-time schedules fire at their time, at their target, then are deleted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from lambda_jobs.emulator.joblog import JobLog
from lambda_jobs.emulator.motoserver import MotoServer
from lambda_jobs.emulator.provision import moto_config
from lambda_jobs.emulator.scheduler import SchedulePoller, due_time, fill_placeholders
from lambda_jobs.emulator.topology import QueueSpec
from lambda_jobs.schedules import at_expression

from tests.conftest import REGION, boto_client


def test_due_time_reads_at_expressions_in_their_time_zone() -> None:
    assert due_time("at(2030-01-02T03:04:05)", "UTC") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    paris = due_time("at(2030-01-02T03:04:05)", "Europe/Paris")
    assert paris is not None and paris.astimezone(UTC).hour == 2
    assert due_time("rate(5 minutes)", "UTC") is None


def test_placeholders_are_filled() -> None:
    text = '{"a": "<aws.scheduler.schedule-arn>", "t": "<aws.scheduler.scheduled-time>"}'
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert fill_placeholders(text, schedule_arn="arn:s", scheduled_time=when) == (
        '{"a": "arn:s", "t": "2030-01-02T03:04:05Z"}'
    )


def test_due_schedule_sends_its_input_to_the_queue_and_is_deleted(moto: MotoServer) -> None:
    sqs = boto_client(moto, "sqs")
    scheduler = boto_client(moto, "scheduler")
    url = sqs.create_queue(QueueName="target")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:123456789012:target"
    scheduler.create_schedule_group(Name="g")
    common = {
        "GroupName": "g",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
    }
    past = at_expression(datetime.now(UTC) - timedelta(seconds=1))
    future = at_expression(datetime.now(UTC) + timedelta(hours=1))
    target = {"Arn": arn, "RoleArn": "arn:aws:iam::123456789012:role/r"}
    scheduler.create_schedule(
        Name="due", ScheduleExpression=past, Target={**target, "Input": "now"}, **common
    )
    scheduler.create_schedule(
        Name="later", ScheduleExpression=future, Target={**target, "Input": "later"}, **common
    )
    poller = SchedulePoller(
        ["g"],
        queues={
            arn: QueueSpec("Q", "target", url, arn, fifo=False, content_based_deduplication=False)
        },
        invoke_async=lambda function_arn, payload: False,
        moto=moto_config(moto.url, REGION),
        log=JobLog(quiet=True),
        stop=threading.Event(),
    )
    assert poller.poll("g") == 1
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in messages] == ["now"]
    names = [s["Name"] for s in scheduler.list_schedules(GroupName="g")["Schedules"]]
    assert names == ["later"]
