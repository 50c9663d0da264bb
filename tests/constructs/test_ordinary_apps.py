"""Ordinary apps synthesize clean: stacks with an ``env``, grants to a role of another stack,
two backends in one stack, a client configuration too long for a Standard parameter.

One app (four stacks, cdk-nag registered as the demo registers it) is synthesized once for the
module; the refusals (a grant that cannot be made, one schedule name in two backends of a stack)
happen while constructs are built, so they need no synth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Duration, Environment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobBackendConfigError,
    JobCode,
    JobQueue,
    JobSchedule,
    JobStore,
    LambJobBackend,
    PriorityLane,
)

from stacks.demo_code import DEMO_PROJECT, demo_schedule
from tests.constructs.templates import lint_errors, nag_findings, resources

ENV = Environment(account="111111111111", region="eu-west-1")
LONG_STACK = "OrdersServiceBackgroundJobsStackProd"  # 35 characters
TWELVE = [f"queue-{n:02d}-abcd" for n in range(10)]  # ten 12-character queue names


class Synth:
    def __init__(self) -> None:
        self.app = App(analytics_reporting=False)
        code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
        jobs = Stack(self.app, "Jobs", env=ENV)
        self.goat = GoatJobBackend(
            jobs, "Goat", code=code, schedules=[demo_schedule("goat", rate="1 hour")]
        )
        self.lamb = LambJobBackend(
            jobs,
            "Lamb",
            code=code,
            job_store=JobStore(),
            schedules=[demo_schedule("lamb", rate="1 hour")],
        )
        local = iam.Role(jobs, "LocalRole", assumed_by=iam.AccountRootPrincipal())
        web = Stack(self.app, "Web", env=ENV)
        self.web_role = iam.Role(web, "WebRole", assumed_by=iam.AccountRootPrincipal())
        imported = iam.Role.from_role_arn(web, "Imported", "arn:aws:iam::111111111111:role/web")
        for backend in (self.goat, self.lamb):
            backend.grant_enqueue(local)
            backend.grant_enqueue(self.web_role)
            backend.grant_enqueue(imported)  # a mutable import of the same account
        GoatJobBackend(
            Stack(self.app, LONG_STACK),
            "Jobs",
            code=code,
            job_store=JobStore(),
            removal_policy=RemovalPolicy.DESTROY,
            queues=[JobQueue(name) for name in TWELVE],
        )
        tokens = Stack(self.app, "Tokens")
        memory = CfnParameter(tokens, "Memory", type="Number", default=1024)
        seconds = CfnParameter(tokens, "Timeout", type="Number", default=60)
        concurrency = CfnParameter(tokens, "Concurrency", type="Number", default=5)
        name = CfnParameter(tokens, "ConfigName", type="String", default="/my-app/jobs")
        LambJobBackend(
            tokens,
            "Lamb",
            code=code,
            memory_size=memory.value_as_number,
            timeout=Duration.seconds(seconds.value_as_number),
            parameter_name=name.value_as_string,
            queues=[JobQueue("default", max_concurrency=concurrency.value_as_number)],
        )
        GoatJobBackend(
            tokens,
            "Goat",
            code=code,
            memory_size=memory.value_as_number,
            queues=[JobQueue("default", max_concurrency=concurrency.value_as_number)],
        )
        Validations.of(self.app).add_plugins(AwsSolutionsChecks(self.app))
        assembly = self.app.synth()
        self.templates: dict[str, dict[str, Any]] = {
            stack.stack_name: stack.template for stack in assembly.stacks
        }


@pytest.fixture(scope="module")
def synth() -> Iterator[Synth]:
    yield Synth()


def test_env_stacks_cross_stack_and_imported_grantees_pass_cdk_nag(synth: Synth) -> None:
    # The schedule-group wildcard is acknowledged with the literal region and account.
    assert nag_findings(synth.app) == []


def test_env_stacks_cross_stack_grants_and_two_backends_pass_cfn_lint(synth: Synth) -> None:
    for name, template in synth.templates.items():
        assert lint_errors(template) == [], name


def test_two_backends_in_one_stack_give_their_schedules_distinct_names(synth: Synth) -> None:
    names = [
        s["Properties"]["Name"]
        for s in resources(synth.templates["Jobs"], "AWS::Scheduler::Schedule").values()
    ]
    assert sorted(names) == ["goat-tick", "lamb-tick"]


def test_a_cross_stack_grant_lands_in_the_grantees_stack(synth: Synth) -> None:
    policies = resources(synth.templates["Web"], "AWS::IAM::Policy").values()
    actions = {
        action
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert {"sqs:SendMessage", "lambda:InvokeFunction", "scheduler:CreateSchedule"} <= actions


def test_ssm_tier_follows_the_worst_case_document_size(synth: Synth) -> None:
    # Ten one-lane queues, 12-character names, a job store, a 35-character stack name: about
    # 4,200 characters once CloudFormation names everything at its longest.
    (parameter,) = resources(synth.templates[LONG_STACK], "AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Tier"] == "Advanced"
    (small,) = [
        p
        for p in resources(synth.templates["Jobs"], "AWS::SSM::Parameter").values()
        if "goat" in p["Properties"]["Description"]
    ]
    assert small["Properties"]["Tier"] == "Standard"


def test_the_same_schedule_name_in_two_backends_of_a_stack_is_refused() -> None:
    stack = Stack(App(analytics_reporting=False), "Twice")
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    nightly = JobSchedule("nightly", task="demo_tasks.tick", cron="0 3 * * ? *")
    GoatJobBackend(stack, "First", code=code, schedules=[nightly])
    with pytest.raises(JobBackendConfigError) as raised:
        LambJobBackend(stack, "Second", code=code, schedules=[nightly])
    assert str(raised.value) == (
        "JobSchedule 'nightly': backend Twice/First of the same stack has a schedule of that "
        "name; CloudFormation identifies AWS::Scheduler::Schedule by Name alone, so schedule "
        "names must be unique in a stack"
    )


@pytest.fixture(scope="module")
def backend() -> Iterator[GoatJobBackend]:
    stack = Stack(App(analytics_reporting=False), "Grants", env=ENV)
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    yield GoatJobBackend(stack, "Jobs", code=code, job_store=JobStore())


@pytest.mark.parametrize(
    ("arn", "mutable"),
    [
        ("arn:aws:iam::111111111111:role/web", False),  # immutable import, same account
        ("arn:aws:iam::222222222222:role/web", True),  # another account: CDK imports immutable
    ],
)
def test_a_grant_to_an_imported_role_cdk_cannot_change_raises(
    backend: GoatJobBackend, arn: str, mutable: bool
) -> None:
    stack = Stack.of(backend)
    role = iam.Role.from_role_arn(
        stack, f"Imported{len(stack.node.children)}", arn, mutable=mutable
    )
    with pytest.raises(
        JobBackendConfigError, match=r"grant_enqueue: Grants/.* is an imported role"
    ):
        backend.grant_enqueue(role)
    with pytest.raises(JobBackendConfigError, match="imported role that CDK does not change"):
        backend.grant_read_jobs(role)


def test_a_grant_to_an_account_principal_raises(backend: GoatJobBackend) -> None:
    with pytest.raises(JobBackendConfigError, match="has no identity policy") as raised:
        backend.grant_enqueue(iam.AccountPrincipal("222222222222"))
    assert "222222222222" in str(raised.value)


def test_a_grant_to_a_mutable_imported_role_of_the_account_is_made(
    backend: GoatJobBackend,
) -> None:
    stack = Stack.of(backend)
    role = iam.Role.from_role_arn(stack, "Mutable", "arn:aws:iam::111111111111:role/web")
    assert backend.grant_enqueue(role).success


def test_an_app_with_cdk_nag_2_is_warned_that_the_acknowledgments_do_not_apply() -> None:
    from lambda_jobs_cdk.job_backend import cdk_nag_warning

    warning = cdk_nag_warning("2.37.55")
    assert warning is not None
    assert warning.startswith("cdk-nag 2.37.55 does not read the acknowledgments")
    assert "cdk-nag>=3.0.2" in warning
    assert cdk_nag_warning("3.0.2") is None
    assert cdk_nag_warning(None) is None  # cdk-nag not installed: nothing to warn about


def test_tokens_are_accepted_where_aws_cdk_lib_accepts_them(synth: Synth) -> None:
    template = synth.templates["Tokens"]
    functions = resources(template, "AWS::Lambda::Function").values()
    for function in functions:
        assert function["Properties"]["MemorySize"] == {"Ref": "Memory"}
    (lamb,) = [f for f in functions if "Lamb" in f["Properties"]["Description"]]
    assert lamb["Properties"]["Timeout"] == {"Ref": "Timeout"}
    assert lamb["Properties"]["ReservedConcurrentExecutions"] == {"Ref": "Concurrency"}
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "Concurrency"}}
    names = [p["Properties"]["Name"] for p in resources(template, "AWS::SSM::Parameter").values()]
    assert {"Ref": "ConfigName"} in names


def test_tokens_where_the_construct_plans_from_the_value_are_refused_naming_why() -> None:
    stack = Stack(App(analytics_reporting=False), "TokenRefusals")
    seconds = CfnParameter(stack, "Timeout", type="Number")
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    with pytest.raises(JobBackendConfigError) as raised:
        GoatJobBackend(stack, "Goat", code=code, timeout=Duration.seconds(seconds.value_as_number))
    assert str(raised.value) == (
        "JobQueue 'default' timeout must be known at synth on GoatJobBackend (not a token such "
        "as a CfnParameter's value): the lane queues' visibility timeout is computed from it "
        "(6 x timeout + max_batching_window)"
    )
    with pytest.raises(JobBackendConfigError, match=r"PriorityLane max_priority must be known"):
        PriorityLane(min_priority=-100, max_priority=seconds.value_as_number)  # type: ignore[arg-type]
