"""The IAM reference page's table of what each principal is granted is what the templates grant."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.constructs.conftest import DemoAssembly

REPO = Path(__file__).resolve().parents[2]

#: table row -> the demo role that holds it (stacks/demo_code.py gives AppRole grant_enqueue
#: and OperatorRole grant_operate).
ROLES = {
    "function role": "JobsFunctionRole",
    "scheduler role": "JobsSchedulerRole",
    "`grant_enqueue`": "AppRole",
    "`grant_operate`": "OperatorRole",
}
STACKS = {"Goat": "GoatDemo", "Lamb": "LambDemo"}


def _documented() -> dict[tuple[str, str], set[str]]:
    text = (REPO / "docs" / "reference" / "iam.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- iam-principals -->") : text.index("<!-- /iam-principals -->")]
    rows: dict[tuple[str, str], set[str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] not in ROLES:
            continue
        actions = set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", cells[2]))
        if "what `grant_enqueue` gives" in cells[2]:
            actions |= rows[("`grant_enqueue`", cells[1])]
        rows[(cells[0], cells[1])] = actions
    return rows


def _granted(template: dict[str, Any], prefix: str) -> set[str]:
    resources = template["Resources"]
    (role,) = [
        k for k, r in resources.items() if k.startswith(prefix) and r["Type"] == "AWS::IAM::Role"
    ]
    actions: set[str] = set()
    for resource in resources.values():
        props = resource.get("Properties") or {}
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": role} not in props["Roles"]:
            continue
        for statement in props["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            actions.update(listed if isinstance(listed, list) else [listed])
    return actions


def test_readme_lists_each_principals_actions_as_the_templates_grant_them(
    demo_assembly: DemoAssembly,
) -> None:
    documented = _documented()
    assert len(documented) == len(ROLES) * len(STACKS)
    for (row, backend), actions in documented.items():
        granted = _granted(demo_assembly.templates[STACKS[backend]], ROLES[row])
        assert actions == granted, (row, backend, sorted(actions ^ granted))


def test_grant_operate_without_a_store_reads_no_table_and_acknowledges_its_star() -> None:
    """Only the two actions without a resource-level form get ``*`` (acknowledged for
    cdk-nag); nothing of DynamoDB without a job store."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam
    from lambda_jobs_cdk import JobCode, LambJobBackend

    from stacks.demo_code import DEMO_PROJECT
    from tests.constructs.templates import nag_findings

    app = App(analytics_reporting=False)
    stack = Stack(app, "Operated")
    backend = LambJobBackend(
        stack, "Jobs", code=JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    )
    backend.grant_operate(iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal()))
    template = app.synth().get_stack_by_name("Operated").template
    actions = _granted(template, "Operator")
    assert not [a for a in actions if a.startswith("dynamodb:")]
    assert {"sqs:PurgeQueue", "scheduler:ListSchedules", "lambda:InvokeFunction"} <= actions
    starred = {
        action
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == "*"
        for action in statement["Action"]
    }
    assert starred == {"scheduler:ListSchedules", "cloudwatch:GetMetricStatistics"}
    assert [f for f in nag_findings(app) if "Operator" in f] == []
