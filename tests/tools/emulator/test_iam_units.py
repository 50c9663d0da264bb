"""The IAM checks' pure parts: what a request asks for, the report's matching, AWS's evaluation
by the real evaluator process (``@cloud-copilot/iam-simulate``) and its per-call cost."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lambda_jobs_tools.emulator.iam.authorizer import Authorizer
from lambda_jobs_tools.emulator.iam.evaluator import Evaluator
from lambda_jobs_tools.emulator.iam.policies import Role, StackIam
from lambda_jobs_tools.emulator.iam.report import build, matches
from lambda_jobs_tools.emulator.iam.requests import Call, Signed, calls_of, signature

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
DLQ = f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"
AUTH = (
    "AWS4-HMAC-SHA256 Credential=WorkerRole/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=abc"
)


def _calls(service: str, method: str, path: str, body: object, target: str = "") -> list[Call]:
    signed = signature(AUTH.format(service=service))
    assert signed == Signed("WorkerRole", "us-east-1", service)
    headers = {"x-amz-target": target} if target else {}
    return calls_of(signed, method, path, headers, json.dumps(body).encode(), account=ACCOUNT)


def test_requests_name_the_action_and_resource_aws_authorizes() -> None:
    url = f"http://127.0.0.1:1/{ACCOUNT}/jobs"
    assert _calls("sqs", "POST", "/", {"QueueUrl": url}, "AmazonSQS.SendMessageBatch") == [
        Call("sqs:SendMessage", QUEUE)
    ]
    assert _calls("sqs", "POST", "/", {}, "AmazonSQS.ListQueues") == [Call("sqs:ListQueues", "*")]
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/jobs"
    assert _calls(
        "dynamodb",
        "POST",
        "/",
        {"TableName": "jobs", "IndexName": "failures"},
        "DynamoDB_20120810.Query",
    ) == [Call("dynamodb:Query", f"{table}/index/failures")]
    assert _calls(
        "dynamodb",
        "POST",
        "/",
        {
            "TransactItems": [
                {"Put": {"TableName": "jobs"}},
                {"ConditionCheck": {"TableName": "jobs"}},
            ]
        },
        "DynamoDB_20120810.TransactWriteItems",
    ) == [Call("dynamodb:PutItem", table), Call("dynamodb:ConditionCheckItem", table)]
    assert _calls("ssm", "POST", "/", {"Name": "/a/b"}, "AmazonSSM.GetParameter") == [
        Call("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/a/b")
    ]
    role = f"arn:aws:iam::{ACCOUNT}:role/sched"
    assert _calls(
        "scheduler", "POST", "/schedules/job-1", {"GroupName": "g", "Target": {"RoleArn": role}}
    ) == [
        Call("scheduler:CreateSchedule", f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/g/job-1"),
        Call("iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}),
    ]
    assert _calls("scheduler", "GET", "/schedules?GroupName=g", {}) == [
        Call("scheduler:ListSchedules", "*")
    ]
    assert _calls("lambda", "POST", "/2015-03-31/functions/fn%3A%24LATEST/invocations", {}) == [
        Call("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn")
    ]
    assert _calls("sts", "POST", "/", {}) == []  # not understood: the gateway denies it
    assert signature(None) is None


def test_report_grants_match_with_iam_wildcards() -> None:
    assert matches("sqs:send*", "sqs:SendMessage", ignore_case=True)
    assert matches("arn:aws:sqs:*:*:jobs-?", "arn:aws:sqs:us-east-1:1:jobs-1")
    assert not matches("arn:aws:sqs:*:*:jobs", "arn:aws:sqs:us-east-1:1:jobs-1")


@pytest.fixture(scope="module")
def evaluator() -> Iterator[Evaluator]:
    started = Evaluator(REPO)
    yield started
    started.close()


def _authorizer(evaluator: Evaluator) -> Authorizer:
    role = Role(
        logical_id="WorkerRoleA1B2C3D4",
        name="Stack-WorkerRoleA1B2C3D4",
        arn=f"arn:aws:iam::{ACCOUNT}:role/Stack-WorkerRoleA1B2C3D4",
        policies=[
            (
                "Default",
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [QUEUE, DLQ]},
                        {"Effect": "Allow", "Action": "sqs:PurgeQueue", "Resource": QUEUE},
                    ],
                },
            )
        ],
    )
    tls_only = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "sqs:*",
                "Resource": DLQ,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "sqs:SendMessage",
                "Resource": DLQ,
                "Condition": {"StringEquals": {"aws:PrincipalArn": role.arn}},
            },
        ]
    }
    stack = StackIam(roles={role.arn: role}, queue_policies={DLQ: [tls_only]})
    return Authorizer([stack], evaluator)


def test_identity_allow_resource_deny_and_wording(evaluator: Evaluator) -> None:
    authorizer = _authorizer(evaluator)
    role = authorizer.role("WorkerRole")  # the logical id without CDK's hash suffix
    assert authorizer.authorize(role, Call("sqs:SendMessage", QUEUE)).allowed
    denied = authorizer.authorize(role, Call("sqs:ReceiveMessage", QUEUE))
    assert denied.message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role.name}/{role.name} is not authorized to "
        f"perform: sqs:ReceiveMessage on resource: {QUEUE} because no identity-based policy "
        "allows the sqs:ReceiveMessage action"
    )
    explicit = authorizer.authorize(role, Call("sqs:SendMessage", DLQ))  # the queue policy
    assert not explicit.allowed and explicit.message.endswith("with an explicit deny in a policy")
    report = build(authorizer)["roles"][0]
    used = {(g["action"], g["resource"]): g["used"] for g in report["grants"]}
    assert used == {
        ("sqs:SendMessage", QUEUE): True,
        ("sqs:SendMessage", DLQ): False,
        ("sqs:PurgeQueue", QUEUE): False,
    }
    assert sorted(report["denied"]) == [f"sqs:ReceiveMessage {QUEUE}", f"sqs:SendMessage {DLQ}"]
    with pytest.raises(ValueError, match="no role 'Nope' in the emulated stacks; their roles: "):
        authorizer.role("Nope")


def test_a_decision_costs_milliseconds_and_a_repeated_one_nothing(evaluator: Evaluator) -> None:
    """Why one long-lived process and a cache (see the evaluator's docstring)."""
    authorizer = _authorizer(evaluator)
    role = authorizer.role("WorkerRole")
    started = time.perf_counter()
    for n in range(50):
        authorizer.authorize(role, Call("sqs:SendMessage", f"{QUEUE}-{n}"))
    fresh = (time.perf_counter() - started) / 50
    started = time.perf_counter()
    for n in range(50):
        authorizer.authorize(role, Call("sqs:SendMessage", f"{QUEUE}-{n}"))
    cached = (time.perf_counter() - started) / 50
    assert fresh < 0.05 and cached < fresh


def test_pass_role_is_judged_with_the_service_it_is_passed_to(evaluator: Evaluator) -> None:
    """``grant_enqueue``'s PassRole holds for ``scheduler.amazonaws.com`` only."""
    scheduler_role = f"arn:aws:iam::{ACCOUNT}:role/sched"
    role = Role(
        logical_id="App",
        name="App",
        arn=f"arn:aws:iam::{ACCOUNT}:role/App",
        policies=[
            (
                "p",
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "iam:PassRole",
                            "Resource": scheduler_role,
                            "Condition": {
                                "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
                            },
                        }
                    ],
                },
            )
        ],
    )
    authorizer = Authorizer([StackIam(roles={role.arn: role})], evaluator)
    passed = _calls("scheduler", "POST", "/schedules/j", {"Target": {"RoleArn": scheduler_role}})[1]
    assert authorizer.authorize(role, passed).allowed
    elsewhere = Call("iam:PassRole", scheduler_role, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not authorizer.authorize(role, elsewhere).allowed
