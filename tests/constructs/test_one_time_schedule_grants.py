"""What one-time schedules need from the constructs: the scheduler role may dead-letter, the app
may delete a cancelled job's schedule.

Every one-time schedule (a delay, a Lamb retry) names the backend's DLQ as its
``DeadLetterConfig``, so the scheduler role sends there even in a backend without recurring
schedules; ``cancel_job`` deletes the job's pending schedule, so ``grant_enqueue`` of a backend
with a job store allows ``scheduler:DeleteSchedule`` in the backend's group (and only there).
One app (no recurring schedules anywhere) is synthesized for the module.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from lambda_jobs_cdk import GoatJobBackend, JobStore, LambJobBackend

from stacks.demo_code import demo_code
from tests.constructs.templates import lint_errors, nag_findings, resources


@pytest.fixture(scope="module")
def synth() -> tuple[App, dict[str, dict[str, Any]]]:
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    app = App(analytics_reporting=False)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    for name, kind, store in (
        ("GoatStore", GoatJobBackend, True),
        ("LambStore", LambJobBackend, True),
        ("GoatNoStore", GoatJobBackend, False),
    ):
        stack = Stack(app, name)
        backend = kind(
            stack,
            "Jobs",
            code=demo_code(),
            job_store=JobStore(ttl=Duration.days(1)) if store else None,
        )
        role = iam.Role(
            stack, "AppRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")
        )
        backend.grant_enqueue(role)
    assembly = app.synth()
    names = ("GoatStore", "LambStore", "GoatNoStore")
    return app, {name: assembly.get_stack_by_name(name).template for name in names}


def _statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles") or []
        if any(r.get("Ref", "").startswith(role_prefix) for r in roles):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


@pytest.mark.parametrize("stack", ["GoatStore", "LambStore", "GoatNoStore"])
def test_the_scheduler_role_may_send_to_the_dead_letter_queue_without_recurring_schedules(
    synth: tuple[App, dict[str, dict[str, Any]]], stack: str
) -> None:
    template = synth[1][stack]
    assert not resources(template, "AWS::Scheduler::Schedule")  # none of its own
    sends = [
        s
        for s in _statements(template, "JobsSchedulerRole")
        if "sqs:SendMessage" in _actions(s)
        and s["Resource"] == {"Fn::GetAtt": [s["Resource"]["Fn::GetAtt"][0], "Arn"]}
        and s["Resource"]["Fn::GetAtt"][0].startswith("JobsDeadLetterQueue")
    ]
    assert len(sends) == 1


@pytest.mark.parametrize("stack", ["GoatStore", "LambStore"])
def test_grant_enqueue_with_a_job_store_allows_deleting_schedules_of_the_group_only(
    synth: tuple[App, dict[str, dict[str, Any]]], stack: str
) -> None:
    template = synth[1][stack]
    deletes = [
        s for s in _statements(template, "AppRole") if "scheduler:DeleteSchedule" in _actions(s)
    ]
    assert len(deletes) == 1
    group = next(iter(resources(template, "AWS::Scheduler::ScheduleGroup").values()))
    resource = deletes[0]["Resource"]
    assert f":schedule/{group['Properties']['Name']}/*" in str(resource)


def test_grant_enqueue_without_a_job_store_allows_no_delete(
    synth: tuple[App, dict[str, dict[str, Any]]],
) -> None:
    statements = _statements(synth[1]["GoatNoStore"], "AppRole")
    assert statements
    assert not [s for s in statements if "scheduler:DeleteSchedule" in _actions(s)]


def test_cdk_nag_and_cfn_lint_pass(synth: tuple[App, dict[str, dict[str, Any]]]) -> None:
    app, templates = synth
    assert nag_findings(app) == []
    for template in templates.values():
        assert lint_errors(template) == []
