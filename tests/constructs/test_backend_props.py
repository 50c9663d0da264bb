"""Every prop and default of GoatJobBackend, LambJobBackend and JobQueue, seen in the template.

One app with four stacks (defaults and custom props of each backend) is synthesized once for the
module; each test reads one template with ``aws_cdk.assertions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue, LambJobBackend, PriorityLane

from stacks.demo_code import DEMO_PROJECT
from tests.constructs.templates import concrete, lint_errors, nag_findings, resources

DEMO_TASKS = ["demo_tasks"]


class Synth:
    def __init__(self) -> None:
        self.app = App(analytics_reporting=False)
        code = JobCode.from_directory(DEMO_PROJECT, tasks=DEMO_TASKS)
        x86 = JobCode.from_directory(
            DEMO_PROJECT, tasks=DEMO_TASKS, architecture=lambda_.Architecture.X86_64
        )
        goat_defaults = Stack(self.app, "GoatDefaults")
        self.goat_defaults = GoatJobBackend(goat_defaults, "Jobs", code=code)
        goat_custom = Stack(self.app, "GoatCustom")
        self.goat_custom = GoatJobBackend(
            goat_custom,
            "Jobs",
            code=x86,
            timeout=Duration.seconds(60),
            memory_size=256,
            environment={"APP_ENV": "test"},
            log_retention=logs.RetentionDays.ONE_WEEK,
            parameter_name="/my-app/jobs-config",
            queues=[
                JobQueue(
                    "fast",
                    timeout=Duration.seconds(10),
                    memory_size=1024,
                    delay=Duration.seconds(60),
                    batch_size=100,
                    max_batching_window=Duration.seconds(5),
                    max_concurrency=3,
                ),
                JobQueue("ordered", fifo=True, batch_size=5),
                JobQueue(
                    "bands",
                    max_concurrency=4,
                    lanes=[
                        PriorityLane(min_priority=-100, max_priority=0),
                        PriorityLane(min_priority=1, max_priority=100, max_concurrency=20),
                    ],
                ),
            ],
        )
        self.goat_app_role = iam.Role(
            goat_custom, "AppRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")
        )
        self.goat_custom.grant_enqueue(self.goat_app_role)
        lamb_defaults = Stack(self.app, "LambDefaults")
        self.lamb_defaults = LambJobBackend(lamb_defaults, "Jobs", code=code)
        lamb_custom = Stack(self.app, "LambCustom")
        self.lamb_custom = LambJobBackend(
            lamb_custom,
            "Jobs",
            code=code,
            timeout=Duration.seconds(120),
            memory_size=2048,
            queues=[
                JobQueue(
                    "default",
                    retry_attempts=0,
                    max_event_age=Duration.seconds(60),
                    lanes=[
                        PriorityLane(min_priority=-100, max_priority=49, max_concurrency=1),
                        PriorityLane(min_priority=50, max_priority=100, max_concurrency=7),
                    ],
                ),
                JobQueue("reports", timeout=Duration.seconds(900), memory_size=4096),
            ],
        )
        self.lamb_app_role = iam.Role(
            lamb_custom, "AppRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")
        )
        self.lamb_custom.grant_enqueue(self.lamb_app_role)
        self.assembly = self.app.synth()
        self.templates = {
            name: Template.from_json(self.assembly.get_stack_by_name(name).template)
            for name in ("GoatDefaults", "GoatCustom", "LambDefaults", "LambCustom")
        }

    def json(self, name: str) -> dict[str, Any]:
        return dict(self.templates[name].to_json())


@pytest.fixture(scope="module")
def synth() -> Iterator[Synth]:
    yield Synth()


def _logical_id(stack: Stack, construct: Any) -> str:
    return str(stack.resolve(construct.node.default_child.logical_id))


def _statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(r.startswith(role_prefix) for r in roles):
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


# --- defaults -------------------------------------------------------------------------------


def test_goat_default_is_one_default_queue_one_function_arm64_5_min_512_mb(synth: Synth) -> None:
    template = synth.templates["GoatDefaults"]
    template.resource_count_is("AWS::Lambda::Function", 1)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["arm64"],
            "Timeout": 300,
            "MemorySize": 512,
            "PackageType": "Image",
            "Environment": {
                "Variables": {
                    "LAMBDA_JOBS_TASKS": "demo_tasks",
                    "LAMBDA_JOBS_BACKEND": "goat",
                    "LAMBDA_JOBS_DLQ_URL": {"Ref": Match.string_like_regexp("JobsDeadLetterQueue")},
                    "LAMBDA_JOBS_SCHEDULER_GROUP": Match.string_like_regexp("^GoatDefaults-Jobs-"),
                    # The metrics' backend dimension: this backend's own (unique) name.
                    "LAMBDA_JOBS_METRICS_BACKEND": Match.string_like_regexp("^GoatDefaults-Jobs-"),
                    "LAMBDA_JOBS_SCHEDULER_ROLE_ARN": {
                        "Fn::GetAtt": [Match.string_like_regexp("JobsSchedulerRole"), "Arn"]
                    },
                }
            },
        },
    )
    assert list(synth.goat_defaults.lane_queues) == ["default"]


def test_goat_default_lane_queue_sse_retention_redrive_100_visibility_6x_timeout(
    synth: Synth,
) -> None:
    template = synth.json("GoatDefaults")
    queues = resources(template, "AWS::SQS::Queue")
    lanes = {k: v for k, v in queues.items() if k.startswith("JobsQueuedefault")}
    (lane,) = lanes.values()
    props = lane["Properties"]
    assert props["VisibilityTimeout"] == 6 * 300
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert props["MaximumMessageSize"] == 1024 * 1024
    assert "DelaySeconds" not in props and "FifoQueue" not in props
    assert props["RedrivePolicy"]["maxReceiveCount"] == 100
    dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dlq_id.startswith("JobsDeadLetterQueue")


def test_dead_letter_queue_sse_tls_only_14_days_1_mib(synth: Synth) -> None:
    for name in ("GoatDefaults", "LambDefaults"):
        template = synth.json(name)
        queues = resources(template, "AWS::SQS::Queue")
        (dlq_id,) = [k for k in queues if k.startswith("JobsDeadLetterQueue")]
        props = queues[dlq_id]["Properties"]
        assert props["SqsManagedSseEnabled"] is True
        assert props["MessageRetentionPeriod"] == 1209600
        assert props["MaximumMessageSize"] == 1048576
        policies = resources(template, "AWS::SQS::QueuePolicy").values()
        tls_denied = [
            p
            for p in policies
            if p["Properties"]["Queues"] == [{"Ref": dlq_id}]
            and p["Properties"]["PolicyDocument"]["Statement"][0]["Effect"] == "Deny"
            and p["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]
            == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert len(tls_denied) == 1, name


def test_every_lane_queue_has_a_tls_only_policy(synth: Synth) -> None:
    template = synth.json("GoatCustom")
    queue_ids = set(resources(template, "AWS::SQS::Queue"))
    guarded = {
        p["Properties"]["Queues"][0]["Ref"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]
        == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert guarded == queue_ids


def test_goat_default_event_source_mapping_reports_batch_item_failures_batch_10(
    synth: Synth,
) -> None:
    template = synth.templates["GoatDefaults"]
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumBatchingWindowInSeconds": Match.absent(),
            "ScalingConfig": Match.absent(),
        },
    )


def test_default_log_group_retention_is_one_month(synth: Synth) -> None:
    synth.templates["GoatDefaults"].has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": 30}
    )
    synth.templates["GoatDefaults"].has_resource_properties(
        "AWS::Lambda::Function", {"LoggingConfig": {"LogGroup": {"Ref": Match.any_value()}}}
    )


def test_default_ssm_parameter_name_and_outputs(synth: Synth) -> None:
    template = synth.templates["GoatDefaults"]
    template.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Type": "String",
            "Name": Match.string_like_regexp(
                r"^/lambda-jobs/GoatDefaults-Jobs-[0-9A-F]{8}/client-config$"
            ),
        },
    )
    outputs = synth.json("GoatDefaults")["Outputs"]
    assert {k.rstrip("0123456789ABCDEF") for k in outputs} == {
        "JobsClientConfig",
        "JobsClientConfigParameterName",
    }
    assert synth.goat_defaults.parameter_name.startswith("/lambda-jobs/GoatDefaults-Jobs-")


def test_scheduler_group_and_role_trust_scheduler_for_this_account_and_group(
    synth: Synth,
) -> None:
    template = synth.json("GoatDefaults")
    (group_id, group) = next(iter(resources(template, "AWS::Scheduler::ScheduleGroup").items()))
    assert group["Properties"]["Name"] == synth.goat_defaults.schedule_group_name
    roles = resources(template, "AWS::IAM::Role")
    (scheduler_role,) = [v for k, v in roles.items() if k.startswith("JobsSchedulerRole")]
    (trust,) = scheduler_role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [group_id, "Arn"]}},
    }


def test_goat_scheduler_role_may_only_send_to_the_lane_queues_and_the_dlq(synth: Synth) -> None:
    template = synth.json("GoatCustom")
    statement, dead_letters = _statements(template, "JobsSchedulerRole")
    assert _actions(statement) == ["sqs:SendMessage"]
    lane_ids = {k for k in resources(template, "AWS::SQS::Queue") if k.startswith("JobsQueue")}
    assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == lane_ids
    _assert_dead_letter_send(dead_letters)


def _assert_dead_letter_send(statement: dict[str, Any]) -> None:
    """Scheduler's dead-letter events of every schedule (one-time ones too) go to the DLQ."""
    assert _actions(statement) == ["sqs:SendMessage"]
    assert statement["Resource"]["Fn::GetAtt"][0].startswith("JobsDeadLetterQueue")


def test_goat_function_role_names_every_resource_and_has_no_scheduler_rights(
    synth: Synth,
) -> None:
    template = synth.json("GoatCustom")
    statements = _statements(template, "JobsFunctionRole")
    for statement in statements:
        resources_ = statement["Resource"]
        for resource in resources_ if isinstance(resources_, list) else [resources_]:
            assert resource != "*"
    actions = {a for s in statements for a in _actions(s)}
    assert {"sqs:SendMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"} <= actions
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions  # the event-source mappings
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= actions
    assert not any(a.startswith("scheduler:") or a == "iam:PassRole" for a in actions)
    assert len(resources(template, "AWS::IAM::Role")) == 3  # function, scheduler, AppRole


@pytest.mark.parametrize("stack", ["GoatDefaults", "LambDefaults"])
def test_function_role_may_only_send_to_the_dead_letter_queue(synth: Synth, stack: str) -> None:
    """Dead letters and Lamb's on-failure records are sends to a queue whose URL and ARN the
    function has: no ``GetQueueUrl``/``GetQueueAttributes`` on it (CDK's ``grant_send_messages``
    and ``SqsDestination`` would add both)."""
    on_dlq = [
        statement
        for statement in _statements(synth.json(stack), "JobsFunctionRole")
        if str(statement["Resource"]).count("JobsDeadLetterQueue")
    ]
    assert on_dlq
    assert {a for s in on_dlq for a in _actions(s)} == {"sqs:SendMessage"}


def test_lamb_default_one_function_retry_2_event_age_6h_failures_to_dlq(synth: Synth) -> None:
    template = synth.templates["LambDefaults"]
    template.resource_count_is("AWS::Lambda::Function", 1)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["arm64"],
            "Timeout": 300,
            "MemorySize": 512,
            "ReservedConcurrentExecutions": Match.absent(),
            "Environment": {"Variables": Match.object_like({"LAMBDA_JOBS_BACKEND": "lamb"})},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "Qualifier": "$LATEST",
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {
                        "Fn::GetAtt": [Match.string_like_regexp("JobsDeadLetterQueue"), "Arn"]
                    }
                }
            },
        },
    )


def test_lamb_function_never_references_its_own_arn(synth: Synth) -> None:
    template = synth.json("LambCustom")
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        assert logical_id not in str(function["Properties"]["Environment"])


def test_lamb_function_role_may_schedule_retries_in_its_group_and_write_the_dlq(
    synth: Synth,
) -> None:
    template = synth.json("LambDefaults")
    statements = _statements(template, "JobsFunctionRole")
    by_action = {a: s for s in statements for a in _actions(s)}
    group = synth.lamb_defaults.schedule_group_name
    assert concrete(by_action["scheduler:CreateSchedule"]["Resource"]) == (
        f"arn:ref:AWS::Partition:scheduler:us-east-1:ref:AWS::AccountId:schedule/{group}/*"
    )
    passrole = by_action["iam:PassRole"]
    assert passrole["Resource"]["Fn::GetAtt"][0].startswith("JobsSchedulerRole")
    assert passrole["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    assert by_action["sqs:SendMessage"]["Resource"]["Fn::GetAtt"][0].startswith(
        "JobsDeadLetterQueue"
    )
    assert "lambda:InvokeFunction" not in by_action


def test_lamb_scheduler_role_may_only_invoke_the_lane_functions_and_send_to_the_dlq(
    synth: Synth,
) -> None:
    template = synth.json("LambCustom")
    statement, dead_letters = _statements(template, "JobsSchedulerRole")
    assert _actions(statement) == ["lambda:InvokeFunction"]
    functions = set(resources(template, "AWS::Lambda::Function"))
    assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == functions
    _assert_dead_letter_send(dead_letters)


# --- custom props ---------------------------------------------------------------------------


def test_goat_queue_with_own_timeout_or_memory_gets_its_own_function(synth: Synth) -> None:
    template = synth.json("GoatCustom")
    functions = resources(template, "AWS::Lambda::Function")
    assert len(functions) == 2
    by_timeout = {f["Properties"]["Timeout"]: f["Properties"] for f in functions.values()}
    assert by_timeout[10]["MemorySize"] == 1024  # "fast"
    assert by_timeout[60]["MemorySize"] == 256  # shared by "ordered" and "bands"
    assert synth.goat_custom.function_for["ordered"] is synth.goat_custom.function_for["bands"]
    assert synth.goat_custom.function_for["fast"] is not synth.goat_custom.function_for["bands"]


def test_goat_visibility_timeout_is_6x_function_timeout_plus_batching_window(
    synth: Synth,
) -> None:
    template = synth.json("GoatCustom")
    queues = resources(template, "AWS::SQS::Queue")
    stack = Stack.of(synth.goat_custom)
    fast = queues[_logical_id(stack, synth.goat_custom.lane_queues["fast"][0])]["Properties"]
    assert fast["VisibilityTimeout"] == 6 * 10 + 5
    assert fast["DelaySeconds"] == 60
    bands = [
        queues[_logical_id(stack, q)]["Properties"] for q in synth.goat_custom.lane_queues["bands"]
    ]
    assert [b["VisibilityTimeout"] for b in bands] == [360, 360]


def test_goat_batch_size_window_and_maximum_concurrency_per_lane(synth: Synth) -> None:
    template = synth.json("GoatCustom")
    stack = Stack.of(synth.goat_custom)
    mappings = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
    }
    fast = mappings[_logical_id(stack, synth.goat_custom.lane_queues["fast"][0])]
    assert fast["BatchSize"] == 100
    assert fast["MaximumBatchingWindowInSeconds"] == 5
    assert fast["ScalingConfig"] == {"MaximumConcurrency": 3}
    low, high = (mappings[_logical_id(stack, q)] for q in synth.goat_custom.lane_queues["bands"])
    assert low["ScalingConfig"] == {"MaximumConcurrency": 4}  # the queue's max_concurrency
    assert high["ScalingConfig"] == {"MaximumConcurrency": 20}  # the lane's own
    for mapping in mappings.values():
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_goat_fifo_queue_content_dedup_fifo_dlq_batch_without_window(synth: Synth) -> None:
    template = synth.json("GoatCustom")
    stack = Stack.of(synth.goat_custom)
    queues = resources(template, "AWS::SQS::Queue")
    ordered_id = _logical_id(stack, synth.goat_custom.lane_queues["ordered"][0])
    props = queues[ordered_id]["Properties"]
    assert props["FifoQueue"] is True
    assert props["ContentBasedDeduplication"] is True
    fifo_dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert fifo_dlq_id.startswith("JobsFifoDeadLetterQueue")
    assert queues[fifo_dlq_id]["Properties"]["FifoQueue"] is True
    assert synth.goat_custom.fifo_dead_letter_queue is not None
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] == ordered_id
    ]
    assert mapping["BatchSize"] == 5
    assert "MaximumBatchingWindowInSeconds" not in mapping
    assert synth.goat_defaults.fifo_dead_letter_queue is None


def test_architecture_x86_64_sets_function_and_image_platform(synth: Synth) -> None:
    synth.templates["GoatCustom"].all_resources_properties(
        "AWS::Lambda::Function", {"Architectures": ["x86_64"]}
    )
    platforms = {
        name: {
            image["source"].get("platform")
            for image in _manifest(synth, name)["dockerImages"].values()
        }
        for name in ("GoatCustom", "GoatDefaults")
    }
    assert platforms == {"GoatCustom": {"linux/amd64"}, "GoatDefaults": {"linux/arm64"}}


def _manifest(synth: Synth, stack: str) -> dict[str, Any]:
    import json

    path = Path(synth.assembly.directory) / f"{stack}.assets.json"
    return dict(json.loads(path.read_text()))


def test_image_build_argument_sets_lambda_jobs_tasks(synth: Synth) -> None:
    (image,) = _manifest(synth, "GoatDefaults")["dockerImages"].values()
    assert image["source"]["dockerBuildArgs"] == {"LAMBDA_JOBS_TASKS": "demo_tasks"}


def test_environment_log_retention_and_parameter_name_props(synth: Synth) -> None:
    template = synth.templates["GoatCustom"]
    template.all_resources_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"APP_ENV": "test"})}},
    )
    template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})
    template.has_resource_properties("AWS::SSM::Parameter", {"Name": "/my-app/jobs-config"})


def test_lamb_one_function_per_lane_with_reserved_concurrency_and_async_config(
    synth: Synth,
) -> None:
    template = synth.json("LambCustom")
    stack = Stack.of(synth.lamb_custom)
    functions = resources(template, "AWS::Lambda::Function")
    assert len(functions) == 3
    low, high = (
        functions[_logical_id(stack, f)]["Properties"]
        for f in synth.lamb_custom.lane_functions["default"]
    )
    assert (low["ReservedConcurrentExecutions"], high["ReservedConcurrentExecutions"]) == (1, 7)
    assert low["Timeout"] == 120 and low["MemorySize"] == 2048
    (reports,) = synth.lamb_custom.lane_functions["reports"]
    reports_props = functions[_logical_id(stack, reports)]["Properties"]
    assert (reports_props["Timeout"], reports_props["MemorySize"]) == (900, 4096)
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    low_id = _logical_id(stack, synth.lamb_custom.lane_functions["default"][0])
    assert configs[low_id]["MaximumRetryAttempts"] == 0
    assert configs[low_id]["MaximumEventAgeInSeconds"] == 60
    assert configs[_logical_id(stack, reports)]["MaximumRetryAttempts"] == 2


# --- grant_enqueue --------------------------------------------------------------------------


def _grant_statements(synth: Synth, stack_name: str) -> dict[str, dict[str, Any]]:
    statements = _statements(synth.json(stack_name), "AppRole")
    return {a: s for s in statements for a in _actions(s)}


def test_goat_grant_enqueue_is_send_to_lanes_schedule_passrole_and_read_parameter(
    synth: Synth,
) -> None:
    template = synth.json("GoatCustom")
    by_action = _grant_statements(synth, "GoatCustom")
    assert set(by_action) == {
        "sqs:SendMessage",
        "scheduler:CreateSchedule",
        "iam:PassRole",
        "ssm:GetParameter",
    }
    lane_ids = {k for k in resources(template, "AWS::SQS::Queue") if k.startswith("JobsQueue")}
    assert {r["Fn::GetAtt"][0] for r in by_action["sqs:SendMessage"]["Resource"]} == lane_ids
    group = synth.goat_custom.schedule_group_name
    assert concrete(by_action["scheduler:CreateSchedule"]["Resource"]).endswith(
        f":schedule/{group}/*"
    )
    assert by_action["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    assert concrete(by_action["ssm:GetParameter"]["Resource"]).endswith(
        ":parameter/my-app/jobs-config"
    )


def test_lamb_grant_enqueue_is_invoke_lane_functions_schedule_passrole_read_parameter(
    synth: Synth,
) -> None:
    template = synth.json("LambCustom")
    by_action = _grant_statements(synth, "LambCustom")
    assert set(by_action) == {
        "lambda:InvokeFunction",
        "scheduler:CreateSchedule",
        "iam:PassRole",
        "ssm:GetParameter",
    }
    functions = set(resources(template, "AWS::Lambda::Function"))
    invoke = by_action["lambda:InvokeFunction"]["Resource"]
    assert {r["Fn::GetAtt"][0] for r in invoke} == functions


def test_cdk_nag_finds_nothing_unacknowledged_on_custom_backends_and_grantees(
    synth: Synth,
) -> None:
    assert nag_findings(synth.app) == []


def test_cfn_lint_reports_no_error_on_the_custom_backend_templates(synth: Synth) -> None:
    for name in synth.templates:
        assert lint_errors(synth.json(name)) == [], name


def test_ssm_parameter_is_standard_tier_when_the_document_surely_fits(synth: Synth) -> None:
    # The worst case (longest physical names) decides; test_ordinary_apps has one that does not.
    synth.templates["GoatCustom"].has_resource_properties(
        "AWS::SSM::Parameter", {"Tier": "Standard"}
    )
