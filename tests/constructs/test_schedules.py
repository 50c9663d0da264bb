"""``JobSchedule``: the schedule resources both backends synthesize, and every validation error.

One app per module (both backends, a FIFO queue, two lanes) is synthesized once; the error tests
build constructs and never synthesize (errors are raised while a construct is built).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match, Template
from lambda_jobs.scheduling import recurring
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobBackendConfigError,
    JobQueue,
    JobSchedule,
    LambJobBackend,
    PriorityLane,
)

from stacks.demo_code import demo_code, demo_default_queue
from tests.constructs.templates import lint_errors, nag_findings, resources

START = datetime(2030, 1, 1, tzinfo=UTC)


def goat_schedules() -> list[JobSchedule]:
    return [
        JobSchedule(
            "nightly-report",
            task="demo_tasks.hello",
            cron="0 3 * * ? *",
            timezone="Europe/Lisbon",
            kwargs={"name": "report"},
            description="rebuild the report",
        ),
        JobSchedule(
            "sync",
            task="demo_tasks.hello",
            rate="rate(5 minutes)",
            queue_name="ordered",
            enabled=False,
            start=START,
            end=START + timedelta(days=30),
            retry_attempts=3,
            max_event_age=Duration.hours(1),
        ),
        JobSchedule("urgent", task="demo_tasks.hello", rate="1 hour", priority=80),
    ]


@pytest.fixture(scope="module")
def app() -> App:
    app = App(analytics_reporting=False)
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    goat = Stack(app, "GoatSchedules")
    GoatJobBackend(
        goat,
        "Jobs",
        code=demo_code(),
        queues=[demo_default_queue(), JobQueue("ordered", fifo=True)],
        schedules=goat_schedules(),
    )
    lamb = Stack(app, "LambSchedules")
    LambJobBackend(
        lamb,
        "Jobs",
        code=demo_code(),
        queues=[demo_default_queue()],
        schedules=[
            JobSchedule("every-minute", task="demo_tasks.hello", rate="1 minute", priority=60)
        ],
    )
    return app


@pytest.fixture(scope="module")
def templates(app: App) -> dict[str, dict[str, Any]]:
    assembly = app.synth()
    return {
        name: assembly.get_stack_by_name(name).template
        for name in ("GoatSchedules", "LambSchedules")
    }


def _schedule(template: dict[str, Any], name: str) -> dict[str, Any]:
    found = [
        r["Properties"]
        for r in resources(template, "AWS::Scheduler::Schedule").values()
        if r["Properties"]["Name"] == name
    ]
    assert len(found) == 1, name
    props: dict[str, Any] = found[0]
    return props


def _ref(value: Any) -> str:
    """The logical id a ``Fn::GetAtt``/``Ref`` points at."""
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return str(value["Ref"])


def test_one_schedule_per_job_schedule_in_the_backend_group(
    templates: dict[str, dict[str, Any]],
) -> None:
    goat = Template.from_json(templates["GoatSchedules"])
    goat.resource_count_is("AWS::Scheduler::Schedule", 3)
    group = next(
        iter(resources(templates["GoatSchedules"], "AWS::Scheduler::ScheduleGroup").values())
    )
    goat.has_resource(
        "AWS::Scheduler::Schedule",
        {
            "Properties": {
                "Name": "nightly-report",
                "GroupName": group["Properties"]["Name"],
                "ScheduleExpression": "cron(0 3 * * ? *)",
                "ScheduleExpressionTimezone": "Europe/Lisbon",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": "ENABLED",
                "Description": "rebuild the report",
                "Target": {
                    "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                    "DeadLetterConfig": {"Arn": Match.any_value()},
                    "SqsParameters": Match.absent(),
                },
            },
            "DependsOn": Match.array_with([Match.string_like_regexp("ScheduleGroup")]),
        },
    )
    Template.from_json(templates["LambSchedules"]).resource_count_is("AWS::Scheduler::Schedule", 1)


def test_goat_targets_the_lane_queue_of_queue_and_priority(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["GoatSchedules"]
    queues = resources(template, "AWS::SQS::Queue")
    nightly = _schedule(template, "nightly-report")
    urgent = _schedule(template, "urgent")
    sync = _schedule(template, "sync")
    # The lane serving priority 0 keeps the queue's own id; the band above it is "Up1".
    assert re.fullmatch(r"JobsQueuedefault[0-9A-F]{8}", _ref(nightly["Target"]["Arn"]))
    assert _ref(urgent["Target"]["Arn"]).startswith("JobsQueuedefaultUp1")
    # FIFO: firings of one schedule are one message group.
    assert queues[_ref(sync["Target"]["Arn"])]["Properties"]["FifoQueue"] is True
    assert sync["Target"]["SqsParameters"] == {"MessageGroupId": "sync"}
    assert sync["State"] == "DISABLED"
    assert sync["StartDate"] == "2030-01-01T00:00:00Z"
    assert sync["EndDate"] == "2030-01-31T00:00:00Z"
    assert sync["Target"]["RetryPolicy"] == {
        "MaximumRetryAttempts": 3,
        "MaximumEventAgeInSeconds": 3600,
    }
    # Scheduler's dead-letter queue is the backend's standard DLQ (Scheduler refuses FIFO).
    dlq = _ref(sync["Target"]["DeadLetterConfig"]["Arn"])
    assert "FifoQueue" not in queues[dlq]["Properties"]
    assert dlq.startswith("JobsDeadLetterQueue")


def test_input_is_the_recurring_delivery_the_handler_reads(
    templates: dict[str, dict[str, Any]],
) -> None:
    nightly = _schedule(templates["GoatSchedules"], "nightly-report")
    delivery = json.loads(nightly["Target"]["Input"])
    assert recurring.is_delivery(delivery)
    assert delivery == recurring.delivery(
        schedule="nightly-report",
        task="demo_tasks.hello",
        args=[],
        kwargs={"name": "report"},
        queue="default",
        priority=0,
    )
    filled = {**delivery, "scheduled_time": "2030-01-01T03:00:00Z"}
    envelope = recurring.envelope_of(filled)
    assert envelope.task == "demo_tasks.hello"
    assert envelope.kwargs == {"name": "report"}
    assert envelope.schedule == {"name": "nightly-report", "scheduled_time": "2030-01-01T03:00:00Z"}


def test_lamb_targets_the_lane_function(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["LambSchedules"]
    schedule = _schedule(template, "every-minute")
    function = _ref(schedule["Target"]["Arn"])
    assert function.startswith("JobsFunctiondefaultUp1")
    assert resources(template, "AWS::Lambda::Function")[function]
    assert "SqsParameters" not in schedule["Target"]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"


@pytest.mark.parametrize("stack", ["GoatSchedules", "LambSchedules"])
def test_scheduler_role_may_send_to_the_dead_letter_queue_only_besides_the_lanes(
    templates: dict[str, dict[str, Any]], stack: str
) -> None:
    template = templates[stack]
    roles = resources(template, "AWS::IAM::Role")
    scheduler_role = next(k for k in roles if k.startswith("JobsSchedulerRole"))
    policies = [
        p["Properties"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if any(r["Ref"] == scheduler_role for r in p["Properties"]["Roles"])
    ]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    lane_action = "sqs:SendMessage" if stack.startswith("Goat") else "lambda:InvokeFunction"
    assert {s["Action"] for s in statements} == {lane_action, "sqs:SendMessage"}
    dlq_statements = [
        s
        for s in statements
        if s["Action"] == "sqs:SendMessage"
        and not isinstance(s["Resource"], list)
        and _ref(s["Resource"]).startswith("JobsDeadLetterQueue")
    ]
    assert len(dlq_statements) == 1
    for statement in statements:
        resource = statement["Resource"]
        assert resource != "*"
        assert all(r != "*" for r in (resource if isinstance(resource, list) else [resource]))


def test_cdk_nag_and_cfn_lint_are_clean(app: App, templates: dict[str, dict[str, Any]]) -> None:
    assert nag_findings(app) == []
    for template in templates.values():
        assert lint_errors(template) == []


# -- validation errors -----------------------------------------------------------------------

H = "demo_tasks.hello"

SCHEDULE_ERRORS: list[tuple[Callable[[], JobSchedule], str]] = [
    (
        lambda: JobSchedule("bad name", task=H, rate="1 minute"),
        r"JobSchedule name 'bad name' must be 1-64 of letters",
    ),
    (lambda: JobSchedule("x" * 65, task=H, rate="1 minute"), r"must be 1-64 of letters"),
    (lambda: JobSchedule("lj-x", task=H, rate="1 minute"), r"must not start with 'lj-'"),
    (
        lambda: JobSchedule("s", task="hello", rate="1 minute"),
        r"JobSchedule 's' task must be a task's dotted name",
    ),
    (lambda: JobSchedule("s", task=H), r"JobSchedule 's' needs exactly one of cron= .* and rate="),
    (
        lambda: JobSchedule("s", task=H, cron="0 3 * * ? *", rate="1 minute"),
        r"needs exactly one of cron=",
    ),
    (
        lambda: JobSchedule("s", task=H, cron="0 3 * * *"),
        r"JobSchedule 's' cron: .* it has 5 fields, AWS's cron has six",
    ),
    (
        lambda: JobSchedule("s", task=H, cron="0 3 * * * *"),
        r"exactly one of day-of-month .* must be '\?'",
    ),
    (lambda: JobSchedule("s", task=H, cron="0 3 ? * ? *"), r"exactly one of day-of-month"),
    (
        lambda: JobSchedule("s", task=H, cron="60 3 * * ? *"),
        r"cron: minutes .* '60' is not in 0-59",
    ),
    (lambda: JobSchedule("s", task=H, cron="0 24 * * ? *"), r"hours .* '24' is not in 0-23"),
    (lambda: JobSchedule("s", task=H, cron="0 3 32 * ? *"), r"day-of-month .* not in 1-31"),
    (lambda: JobSchedule("s", task=H, cron="0 3 * 13 ? *"), r"month .* not in 1-12 or JAN-DEC"),
    (lambda: JobSchedule("s", task=H, cron="0 3 ? * 8 *"), r"day-of-week .* not in 1-7 or SUN-SAT"),
    (lambda: JobSchedule("s", task=H, cron="0 3 * * ? 2200"), r"year .* not in 1970-2199"),
    (lambda: JobSchedule("s", task=H, cron="0 3 ? * 3#1,6#3 *"), r"a '#' expression must be alone"),
    (lambda: JobSchedule("s", task=H, cron="0 3 ? * 3#6 *"), r"k is 1-5"),
    (lambda: JobSchedule("s", task=H, cron="0 3 32W * ? *"), r"nW: n is 1-31"),
    (lambda: JobSchedule("s", task=H, cron="0/0 3 * * ? *"), r"step of"),
    (lambda: JobSchedule("s", task=H, cron="0 9 ? * 1/2 *"), r"day-of-week '1/2' uses '/'"),
    (lambda: JobSchedule("s", task=H, cron="0 9 ? * MON/2 *"), r"day-of-week 'MON/2' uses '/'"),
    (
        lambda: JobSchedule("s", task=H, rate="0 minutes"),
        r"rate: .* the value must be a whole number >= 1",
    ),
    (lambda: JobSchedule("s", task=H, rate="1.5 hours"), r"the value must be a whole number"),
    (lambda: JobSchedule("s", task=H, rate="5 weeks"), r"unit 'weeks' is not one of"),
    (lambda: JobSchedule("s", task=H, rate="1 minutes"), r"write rate\(1 minute\)"),
    (lambda: JobSchedule("s", task=H, rate="5 minute"), r"write rate\(5 minutes\)"),
    (lambda: JobSchedule("s", task=H, rate="every 5 minutes"), r"is not rate\(value unit\)"),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", timezone="Europe/Lisbn"),
        r"timezone: 'Europe/Lisbn' is not an IANA time zone name .*did you mean Europe/Lisbon",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", timezone="/etc/passwd"),
        r"not an IANA time zone",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", args=[datetime.now(UTC)]),
        r"JobSchedule 's' args/kwargs: .*positional argument 0 is not JSON: a datetime.datetime",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", kwargs={"x": float("nan")}),
        r"keyword argument 'x' is not JSON",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", args="abc"),
        r"args must be a list of JSON values",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", kwargs={"x": "a" * 300_000}),
        r"schedule input of \d+ bytes; EventBridge Scheduler accepts 262144 bytes",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", priority=101),
        r"JobSchedule 's' priority must be in -100\.\.100, got 101",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", enabled="yes"),  # type: ignore[arg-type]
        r"enabled must be True or False",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", start=datetime(2030, 1, 1)),
        r"start must be an aware datetime",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", start=START, end=START),
        r"end \(.*\) must be after start",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", description="d" * 513),
        r"description must be a string of at most 512",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", retry_attempts=186),
        r"retry_attempts must be in 0\.\.185 \(EventBridge Scheduler's MaximumRetryAttempts\)",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", max_event_age=Duration.seconds(59)),
        r"max_event_age must be 60\.\.86400 seconds",
    ),
    (
        lambda: JobSchedule("s", task=H, rate="1 minute", max_event_age=Duration.hours(25)),
        r"max_event_age must be 60\.\.86400 seconds",
    ),
]


@pytest.mark.parametrize(("build", "message"), SCHEDULE_ERRORS)
def test_job_schedule_rejects_bad_props(build: Callable[[], JobSchedule], message: str) -> None:
    with pytest.raises(JobBackendConfigError, match=message):
        build()


BACKEND_ERRORS: list[tuple[list[Any], str]] = [
    (
        [JobSchedule("s", task="other_tasks.job", rate="1 minute")],
        r"JobSchedule 's' task 'other_tasks.job': its module 'other_tasks' is not one of "
        r"JobCode's task modules \(demo_tasks\)",
    ),
    (
        [JobSchedule("s", task=H, rate="1 minute", queue_name="nope")],
        r"JobSchedule 's' queue_name 'nope' is not a queue of this backend \(queues: default\)",
    ),
    (
        [JobSchedule("s", task=H, rate="1 minute"), JobSchedule("s", task=H, cron="0 3 * * ? *")],
        r"JobSchedule 's': schedule names must be unique in a backend",
    ),
    (["not a schedule"], r"schedules must hold JobSchedule objects"),
]


@pytest.mark.parametrize("backend", [GoatJobBackend, LambJobBackend])
@pytest.mark.parametrize(("schedules", "message"), BACKEND_ERRORS)
def test_backend_rejects_schedules_that_do_not_fit_it(
    backend: type[GoatJobBackend] | type[LambJobBackend], schedules: list[Any], message: str
) -> None:
    stack = Stack(App(), "S")
    with pytest.raises(JobBackendConfigError, match=message):
        backend(stack, "Jobs", code=demo_code(), schedules=schedules)


def test_backend_rejects_schedules_that_are_not_a_list() -> None:
    stack = Stack(App(), "S")
    with pytest.raises(JobBackendConfigError, match=r"schedules must be a list of JobSchedule"):
        GoatJobBackend(stack, "Jobs", code=demo_code(), schedules="nightly")  # type: ignore[arg-type]


def test_lane_priority_bands_pick_the_target() -> None:
    stack = Stack(App(), "S")
    queue = JobQueue(
        "default",
        lanes=[
            PriorityLane(min_priority=-100, max_priority=0),
            PriorityLane(min_priority=1, max_priority=100),
        ],
    )
    backend = LambJobBackend(stack, "Jobs", code=demo_code(), queues=[queue])
    low = backend.schedule_target("default", 0)[0]
    high = backend.schedule_target("default", 1)[0]
    assert low == backend.lane_functions["default"][0].function_arn
    assert high == backend.lane_functions["default"][1].function_arn
