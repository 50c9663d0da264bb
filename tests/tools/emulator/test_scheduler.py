"""One-time schedules fire at their time, at their target, then are deleted; recurring ones fire
at every firing of their expression (on a scaled clock in tests) and stay."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from lambda_jobs.scheduling.one_time import at_expression
from lambda_jobs_tools.emulator.console_log import JobLog
from lambda_jobs_tools.emulator.motoserver import MotoServer
from lambda_jobs_tools.emulator.provision import moto_config
from lambda_jobs_tools.emulator.scheduler import SchedulePoller, due_time, fill_placeholders
from lambda_jobs_tools.emulator.topology import QueueSpec

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


def _recurring_poller(
    moto: MotoServer, *, clock_scale: float = 1.0
) -> tuple[SchedulePoller, Any, Any, str, str, str]:
    sqs = boto_client(moto, "sqs")
    scheduler = boto_client(moto, "scheduler")
    url = sqs.create_queue(QueueName="lane")["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:123456789012:lane"
    dlq_arn = f"arn:aws:sqs:{REGION}:123456789012:dlq"
    scheduler.create_schedule_group(Name="g")
    poller = SchedulePoller(
        ["g"],
        queues={
            arn: QueueSpec("Q", "lane", url, arn, fifo=False, content_based_deduplication=False),
            dlq_arn: QueueSpec("D", "dlq", dlq_url, dlq_arn, False, False),
        },
        invoke_async=lambda function_arn, payload: False,
        moto=moto_config(moto.url, REGION),
        log=JobLog(quiet=True),
        stop=threading.Event(),
        clock_scale=clock_scale,
    )
    return poller, sqs, scheduler, url, dlq_url, arn


def _bodies(sqs: Any, url: str) -> list[str]:
    found: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += [m["Body"] for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def test_a_rate_schedule_fires_at_once_then_every_interval_of_the_scaled_clock(
    moto: MotoServer,
) -> None:
    poller, sqs, scheduler, url, _dlq, arn = _recurring_poller(moto, clock_scale=600)
    scheduler.create_schedule(
        Name="tick",
        GroupName="g",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": arn,
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": "<aws.scheduler.scheduled-time>",
        },
    )
    assert poller.poll("g") == 1  # a rate without a start fires when it is created
    deadline = time.monotonic() + 10
    fired = [*_bodies(sqs, url)]
    while len(fired) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)  # the scaled clock moves 10 emulated minutes per real second
        poller.poll("g")
        fired += _bodies(sqs, url)
    times = [datetime.fromisoformat(body) for body in fired]
    assert len(times) >= 4
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(minutes=1)}
    assert scheduler.list_schedules(GroupName="g")["Schedules"]  # a recurring one stays


def test_a_disabled_or_not_yet_started_schedule_does_not_fire(moto: MotoServer) -> None:
    poller, sqs, scheduler, url, _dlq, arn = _recurring_poller(moto)
    target = {"Arn": arn, "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": "x"}
    common = {"GroupName": "g", "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": target}
    scheduler.create_schedule(
        Name="off", ScheduleExpression="rate(1 minute)", State="DISABLED", **common
    )
    scheduler.create_schedule(
        Name="later",
        ScheduleExpression="cron(* * * * ? *)",
        StartDate=datetime.now(UTC) + timedelta(days=1),
        **common,
    )
    assert poller.poll("g") == 0
    assert _bodies(sqs, url) == []


def test_a_firing_whose_target_is_not_emulated_goes_to_the_dead_letter_queue(
    moto: MotoServer,
) -> None:
    poller, sqs, scheduler, _url, dlq_url, _arn = _recurring_poller(moto)
    scheduler.create_schedule(
        Name="lost",
        GroupName="g",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:lambda:{REGION}:123456789012:function:gone",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": "payload",
            "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:123456789012:dlq"},
        },
    )
    poller.poll("g")
    messages = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert messages[0]["Body"] == "payload"
    assert messages[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "TargetNotFound"


def test_a_firing_its_role_may_not_send_goes_to_the_dead_letter_queue_if_it_may_send_there(
    moto: MotoServer,
) -> None:
    """The schedule's role is judged (real evaluator): denied at the target, the firing goes to
    the DLQ with the denial if the role may send there, else it is dropped."""
    from pathlib import Path

    from lambda_jobs_tools.emulator.iam.authorizer import Authorizer
    from lambda_jobs_tools.emulator.iam.evaluator import Evaluator
    from lambda_jobs_tools.emulator.iam.policies import Role, StackIam
    from lambda_jobs_tools.emulator.iam.requests import Call

    poller, sqs, scheduler, url, dlq_url, arn = _recurring_poller(moto)
    dlq_arn = f"arn:aws:sqs:{REGION}:123456789012:dlq"
    roles = {
        name: Role(
            logical_id=name,
            name=name,
            arn=f"arn:aws:iam::123456789012:role/{name}",
            policies=[
                (
                    "p",
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": resource}
                        ],
                    },
                )
            ],
        )
        for name, resource in (("dlq-only", dlq_arn), ("elsewhere", "arn:aws:sqs:*:*:other"))
    }
    evaluator = Evaluator(Path(__file__).resolve().parents[2])
    try:
        authorizer = Authorizer([StackIam(roles={r.arn: r for r in roles.values()})], evaluator)

        def authorize(role_arn: str | None, action: str, resource: str) -> str | None:
            decision = authorizer.authorize(authorizer.roles[str(role_arn)], Call(action, resource))
            return None if decision.allowed else decision.message

        poller.authorize = authorize
        for name, role in roles.items():
            scheduler.create_schedule(
                Name=f"as-{name}",
                GroupName="g",
                ScheduleExpression="rate(5 minutes)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={
                    "Arn": arn,
                    "RoleArn": role.arn,
                    "Input": f"from {name}",
                    "DeadLetterConfig": {"Arn": dlq_arn},
                },
            )
        poller.poll("g")
    finally:
        evaluator.close()
    assert _bodies(sqs, url) == []
    (message,) = sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert message["Body"] == "from dlq-only"
    attributes = message["MessageAttributes"]
    assert attributes["ERROR_CODE"]["StringValue"] == "AccessDenied"
    assert (
        f"assumed-role/dlq-only/dlq-only is not authorized to perform: sqs:SendMessage on "
        f"resource: {arn}" in attributes["ERROR_MESSAGE"]["StringValue"]
    )


def _rate_schedule(scheduler: Any, arn: str, expression: str, state: str) -> None:
    """Create (or ``UpdateSchedule``, which replaces every field) the recurring schedule "tick"."""
    request = {
        "Name": "tick",
        "GroupName": "g",
        "ScheduleExpression": expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": state,
        "Target": {
            "Arn": arn,
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": "<aws.scheduler.scheduled-time>",
        },
    }
    names = [s["Name"] for s in scheduler.list_schedules(GroupName="g")["Schedules"]]
    (scheduler.update_schedule if "tick" in names else scheduler.create_schedule)(**request)


def test_firings_missed_while_disabled_are_not_made_up_when_enabled_again(
    moto: MotoServer,
) -> None:
    # AWS: a disabled schedule does not fire; enabling it again resumes at its next time
    # ("Changing the schedule state in EventBridge Scheduler").
    poller, sqs, scheduler, url, _dlq, arn = _recurring_poller(moto, clock_scale=600)
    _rate_schedule(scheduler, arn, "rate(1 minute)", "ENABLED")
    assert poller.poll("g") == 1
    _rate_schedule(scheduler, arn, "rate(1 minute)", "DISABLED")
    assert poller.poll("g") == 0
    time.sleep(1.0)  # ten emulated minutes: ten firings would have been due
    assert poller.poll("g") == 0
    enabled_at = poller.clock.now()
    _rate_schedule(scheduler, arn, "rate(1 minute)", "ENABLED")
    fired = poller.poll("g")
    assert fired <= 1, f"{fired} firings made up for the disabled time"
    bodies = _bodies(sqs, url)[1:]  # the first is the firing before the schedule was disabled
    assert all(datetime.fromisoformat(b) > enabled_at for b in bodies), bodies


def test_an_updated_expression_takes_effect_at_the_next_firing(moto: MotoServer) -> None:
    poller, sqs, scheduler, url, _dlq, arn = _recurring_poller(moto, clock_scale=600)
    _rate_schedule(scheduler, arn, "rate(1 minute)", "ENABLED")
    assert poller.poll("g") == 1
    _rate_schedule(scheduler, arn, "cron(0 0 1 1 ? 2199)", "ENABLED")  # next: 2199
    time.sleep(0.6)  # six emulated minutes: rate(1 minute) would fire six times
    assert poller.poll("g") == 0
    _bodies(sqs, url)
    _rate_schedule(scheduler, arn, "rate(1 minute)", "ENABLED")
    poller.poll("g")
    deadline = time.monotonic() + 10
    while not (fired := _bodies(sqs, url)) and time.monotonic() < deadline:
        time.sleep(0.05)
        poller.poll("g")
    assert fired, "the schedule did not fire again after its update back to rate(1 minute)"
