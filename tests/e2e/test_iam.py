"""IAM in ``lambda-jobs local``: every call is judged as the template's principal.

The demo app's own templates run with IAM on in every end-to-end test (the default); here a
statement is removed from a synthesized policy and the denial it names is seen, the SDK gets the
errors AWS gives, and the report tells used grants from unused ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from lambda_jobs import aws
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import Backend, demo_tasks, handler_lines, poll

FUNCTION_POLICY = "JobsFunctionRoleDefaultPolicy"
ACCOUNT = "123456789012"


def _without_dead_letter_send(assembly: Path, into: Path) -> str:
    """A copy of ``assembly`` whose Goat function role lost its statement on the DLQ; returns
    the statement's actions."""
    into.mkdir()
    for entry in assembly.iterdir():
        (into / entry.name).symlink_to(entry) if entry.is_dir() else shutil.copy(entry, into)
    path = into / "GoatDemo.template.json"
    template = json.loads(path.read_text(encoding="utf-8"))
    (policy,) = [r for k, r in template["Resources"].items() if k.startswith(FUNCTION_POLICY)]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (removed,) = [
        s
        for s in statements
        if s["Resource"] == {"Fn::GetAtt": [_logical_id(template, "JobsDeadLetterQueue"), "Arn"]}
    ]
    statements.remove(removed)
    path.write_text(json.dumps(template), encoding="utf-8")
    action = removed["Action"]
    return action if isinstance(action, str) else ",".join(action)


def _logical_id(template: dict[str, Any], prefix: str) -> str:
    (found,) = [
        k
        for k, r in template["Resources"].items()
        if k.startswith(prefix) and r["Type"] == "AWS::SQS::Queue"
    ]
    return str(found)


def _role_name(assembly: Path, prefix: str) -> str:
    """The physical name of the stack's role whose logical id starts with ``prefix``."""
    return f"GoatDemo-{_logical(assembly, prefix)}"[:64]


def _logical(assembly: Path, prefix: str) -> str:
    template_path = assembly / "GoatDemo.template.json"
    template = json.loads(template_path.read_text(encoding="utf-8"))
    (found,) = [
        k
        for k, r in template["Resources"].items()
        if k.startswith(prefix) and r["Type"] == "AWS::IAM::Role"
    ]
    return str(found)


def test_a_removed_statement_is_denied_and_the_job_is_not_lost(
    demo_assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker denied its dead-letter send lists the record as failed: it stays on its queue
    (SQS's redrive will move it), the DLQ never gets it, and the denial names what is missing."""
    actions = _without_dead_letter_send(demo_assembly, tmp_path / "cdk.out")
    assert "sqs:SendMessage" in actions
    report = tmp_path / "iam-report.json"
    log = tmp_path / "emulator.log"
    emulator = EmulatorProcess(
        tmp_path / "cdk.out",
        log_path=log,
        extra_args=["--stack", "GoatDemo", "--iam-report", str(report)],
    )
    with emulator:
        config = json.loads(emulator.configs["goat"])
        monkeypatch.setenv("LAMBDA_JOBS_CONFIG", emulator.configs["goat"])
        aws.reset()
        job = demo_tasks.failing.enqueue("denied dead letter")
        dlq_arn = config["dead_letter_queue"]["arn"]
        denial = poll(
            lambda: next(
                (
                    line
                    for line in log.read_text(encoding="utf-8").splitlines()
                    if "denied: User: arn:aws:sts::123456789012:assumed-role/" in line
                    and f"is not authorized to perform: sqs:SendMessage on resource: {dlq_arn}"
                    in line
                ),
                None,
            ),
            timeout=60,
            what="the denial of the dead-letter send",
        )
        assert "because no identity-based policy allows the sqs:SendMessage action" in denial
        failed = poll(
            lambda: [
                line
                for line in handler_lines(log, "dead_letter_failed")
                if line.get("id") == job.id
            ],
            timeout=30,
            what="the handler's dead_letter_failed line",
        )
        assert "AccessDenied" in failed[0]["aws_error"]
        backend = Backend("goat", emulator, tmp_path / "unused.jsonl")
        lane = config["queues"]["default"]["lanes"][0]["target"]
        assert backend.queue_depth(lane) == 1  # still on its queue, invisible until redriven
        assert backend.dead_letter_for(job.id) is None
    aws.reset()
    data = json.loads(report.read_text(encoding="utf-8"))
    roles = {role["role"]: role for role in data["roles"]}
    (function_role,) = [r for k, r in roles.items() if k.startswith("JobsFunctionRole")]
    assert any(f"sqs:SendMessage {dlq_arn}" == d for d in function_role["denied"])
    receive = [g for g in function_role["grants"] if g["action"] == "sqs:ReceiveMessage"]
    assert receive and any(g["used"] for g in receive)
    dynamodb = [g for g in function_role["grants"] if g["action"] == "dynamodb:UpdateItem"]
    assert dynamodb and all(g["used"] for g in dynamodb)


def _client(service: str, backend: Backend, key: str) -> Any:
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=backend.config["endpoints"][service],
        region_name=backend.config["region"],
        aws_access_key_id=key,
        aws_secret_access_key="local",
    )


def test_denied_calls_fail_as_aws_fails_them(goat_backend: Backend, demo_assembly: Path) -> None:
    """Each service's error code and AWS's message, naming the principal, action and resource."""
    role = _logical(demo_assembly, "JobsFunctionRole")
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{_role_name(demo_assembly, 'JobsFunctionRole')}"
    table = goat_backend.config["job_store"]["table"]
    table_arn = f"arn:aws:dynamodb:{goat_backend.config['region']}:{ACCOUNT}:table/{table}"
    with pytest.raises(ClientError) as caught:
        # (PutItem is granted since workflows: a stage enqueues the next; Scan never is)
        _client("dynamodb", goat_backend, role).scan(TableName=table)
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: {session}/{_role_name(demo_assembly, 'JobsFunctionRole')} is not authorized to "
        f"perform: dynamodb:Scan on resource: {table_arn} because no identity-based policy "
        "allows the dynamodb:Scan action"
    )
    other = _role_name(demo_assembly, "JobsSchedulerRole")
    with pytest.raises(ClientError) as caught:
        _client("sqs", goat_backend, other).receive_message(
            QueueUrl=goat_backend.config["dead_letter_queue"]["url"]
        )
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "sqs:ReceiveMessage on resource: " in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        _client("scheduler", goat_backend, role).list_schedules()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "scheduler:ListSchedules on resource: *" in caught.value.response["Error"]["Message"]
    # The role may send to its lanes: served by moto as usual.
    lane = goat_backend.config["queues"]["default"]["lanes"][0]
    assert _client("sqs", goat_backend, role).get_queue_url(
        QueueName=lane["target"].rsplit("/")[-1]
    )
