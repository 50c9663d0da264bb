"""The ``job_store`` prop: an on-demand DynamoDB table with TTL and a sparse failures index.

Pins that it is off by default (no table, no variable, no ``job_store`` key); that on, the table
is PAY_PER_REQUEST with the ``ttl`` attribute, the ``failures`` index (``failed_task`` +
``finished_at``) and PITR as the prop says; that the functions get only GetItem/UpdateItem/
DeleteItem on it and its name and TTL in their environment; that ``grant_enqueue`` adds exactly
PutItem/GetItem/UpdateItem/DeleteItem on the table, ``grant_read_jobs`` Query on the index; that the
client configuration carries the table; that cdk-nag and cfn-lint stay clean; and that wrong props
fail naming the problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobBackendConfigError,
    JobCode,
    JobStore,
    LambJobBackend,
)

from stacks.demo_code import DEMO_PROJECT
from tests.constructs.templates import concrete, lint_errors, nag_findings, resources

TABLE = "AWS::DynamoDB::Table"


class Synth:
    def __init__(self) -> None:
        self.app = App(analytics_reporting=False)
        code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
        GoatJobBackend(Stack(self.app, "GoatNoStore"), "Jobs", code=code)
        goat_stack = Stack(self.app, "GoatStore")
        self.goat = GoatJobBackend(
            goat_stack, "Jobs", code=code, job_store=JobStore(ttl=Duration.days(3))
        )
        self.goat.grant_enqueue(
            iam.Role(goat_stack, "AppRole", assumed_by=iam.AccountRootPrincipal())
        )
        self.goat.grant_read_jobs(
            iam.Role(goat_stack, "OpsRole", assumed_by=iam.AccountRootPrincipal())
        )
        LambJobBackend(
            Stack(self.app, "LambStore"),
            "Jobs",
            code=code,
            job_store=JobStore(point_in_time_recovery=True),
        )
        assembly = self.app.synth()
        self.templates: dict[str, dict[str, Any]] = {
            stack.stack_name: stack.template for stack in assembly.stacks
        }


@pytest.fixture(scope="module")
def synth() -> Iterator[Synth]:
    yield Synth()


def statements(template: dict[str, Any], role_prefix: str) -> dict[str, Any]:
    """Action -> statement of every policy attached to the role ``role_prefix*``."""
    out: dict[str, Any] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(r.startswith(role_prefix) for r in roles):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    out[action] = statement
    return out


def test_off_by_default_no_table_no_variable_no_config_key(synth: Synth) -> None:
    template = synth.templates["GoatNoStore"]
    assert not resources(template, TABLE)
    (function,) = resources(template, "AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert not any(name.startswith("LAMBDA_JOBS_JOB_") for name in variables)
    assert "job_store" not in json.dumps(template["Outputs"])
    assert not [a for a in statements(template, "JobsFunctionRole") if a.startswith("dynamodb:")]


def test_table_is_on_demand_with_ttl_and_a_sparse_failures_index(synth: Synth) -> None:
    (table,) = resources(synth.templates["GoatStore"], TABLE).values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "failures"
    assert index["KeySchema"] == [
        {"AttributeName": "failed_task", "KeyType": "HASH"},
        {"AttributeName": "finished_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert "ProvisionedThroughput" not in index
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert props["SSESpecification"] == {"SSEEnabled": False}  # AWS owned key, DynamoDB's default
    # aws-cdk-lib's default for tables: job_store=None or cdk destroy keeps the job records.
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    (lamb_table,) = resources(synth.templates["LambStore"], TABLE).values()
    assert lamb_table["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }


def test_functions_get_the_table_name_ttl_and_only_item_rights(synth: Synth) -> None:
    template = synth.templates["GoatStore"]
    (table_id,) = resources(template, TABLE)
    for function in resources(template, "AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["LAMBDA_JOBS_JOB_TABLE"] == {"Ref": table_id}
        assert variables["LAMBDA_JOBS_JOB_TTL_SECONDS"] == str(3 * 86400)
    dynamo = {
        action: statement
        for action, statement in statements(template, "JobsFunctionRole").items()
        if action.startswith("dynamodb:")
    }
    # Item rights only; PutItem and BatchGetItem for workflows (a stage enqueues the next).
    assert set(dynamo) == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:BatchGetItem",
    }
    for statement in dynamo.values():
        assert statement["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}


def test_grant_enqueue_adds_item_rights_and_grant_read_jobs_the_index(synth: Synth) -> None:
    template = synth.templates["GoatStore"]
    (table_id,) = resources(template, TABLE)
    app = {a: s for a, s in statements(template, "AppRole").items() if a.startswith("dynamodb:")}
    assert set(app) == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
    }
    assert all(s["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]} for s in app.values())
    ops = statements(template, "OpsRole")
    assert set(ops) == {"dynamodb:Query", "dynamodb:GetItem"}
    assert [concrete(r) for r in ops["dynamodb:Query"]["Resource"]] == [
        f"arn:{table_id}",
        f"arn:{table_id}/index/failures",
    ]


def test_client_config_carries_the_table_and_ttl(synth: Synth) -> None:
    template = synth.templates["GoatStore"]
    (table_id,) = resources(template, TABLE)
    (output,) = [
        v
        for k, v in template["Outputs"].items()
        if k.startswith("JobsClientConfig") and "Fn::Join" in json.dumps(v)
    ]
    text = concrete(output["Value"])
    assert f'"job_store":{{"table":"ref:{table_id}","ttl_seconds":259200}}' in text


def test_cdk_nag_and_cfn_lint_are_clean_with_the_store(synth: Synth) -> None:
    assert nag_findings(synth.app) == []
    for name, template in synth.templates.items():
        assert lint_errors(template) == [], name


@pytest.mark.parametrize(
    ("job_store", "message"),
    [
        ("yes", "job_store must be a JobStore"),
        (JobStore(ttl=Duration.minutes(5)), "job_store ttl must be 1 hour..365 days"),
        (JobStore(ttl=Duration.days(400)), "job_store ttl must be 1 hour..365 days"),
        (JobStore(ttl=7), "job_store ttl must be a Duration"),  # type: ignore[arg-type]
    ],
)
def test_wrong_job_store_props_fail_naming_them(job_store: Any, message: str) -> None:
    app = App(analytics_reporting=False)
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    with pytest.raises(JobBackendConfigError, match=message):
        GoatJobBackend(Stack(app, "Bad"), "Jobs", code=code, job_store=job_store)


def test_grant_read_jobs_needs_a_store() -> None:
    app = App(analytics_reporting=False)
    stack = Stack(app, "NoStore")
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    backend = LambJobBackend(stack, "Jobs", code=code)
    with pytest.raises(JobBackendConfigError, match="grant_read_jobs needs job_store"):
        backend.grant_read_jobs(iam.Role(stack, "Ops", assumed_by=iam.AccountRootPrincipal()))
