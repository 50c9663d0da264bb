"""What one HTTP request to an AWS endpoint asks IAM for: (action, resource) pairs.

The service and the caller's access key come from the SigV4 ``Authorization`` header's
credential scope (``Credential=<key>/<date>/<region>/<service>/aws4_request``). The action and
resource follow the Service Authorization Reference of each service the runtime and the
operations commands call:

- SQS and DynamoDB and SSM (JSON protocol, ``X-Amz-Target``); SQS's batch actions are authorized
  as their single form (``SendMessageBatch`` needs ``sqs:SendMessage``), as are DynamoDB's
  ``BatchWriteItem``/``TransactWriteItems`` entries by their own action on their own table;
- EventBridge Scheduler (REST: ``/schedules/{Name}?groupName=``); ``CreateSchedule`` and
  ``UpdateSchedule`` also need ``iam:PassRole`` on the target's role
  (``iam:PassedToService=scheduler.amazonaws.com``);
- Lambda ``Invoke`` (``lambda:InvokeFunction``).

A request this module cannot read yields no pair: the gateway then denies it as a request the
emulator cannot check (see :mod:`~lambda_jobs_tools.emulator.iam.gateway`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True, slots=True)
class Call:
    """One authorization: ``action`` on ``resource`` with ``context`` keys."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    def key(self) -> tuple[str, str]:
        return self.action, self.resource


@dataclass(frozen=True, slots=True)
class Signed:
    access_key: str
    region: str
    service: str


def signature(authorization: str | None) -> Signed | None:
    """The access key, region and service of a SigV4-signed request, or None if unsigned."""
    match = _CREDENTIAL.search(authorization or "")
    if match is None:
        return None
    return Signed(access_key=match[1], region=match[2], service=match[3])


def queue_arn(url: str, region: str) -> str:
    """The ARN of a queue URL (``.../<account>/<name>``, moto's and SQS's form)."""
    path = urllib.parse.urlsplit(url).path.strip("/").split("/")
    account, name = (path[-2], path[-1]) if len(path) >= 2 else ("*", path[-1])
    return f"arn:aws:sqs:{region}:{account}:{name}"


_SQS_SINGLE = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def sqs_calls(target: str, body: bytes, region: str, account: str) -> list[Call]:
    operation = target.removeprefix("AmazonSQS.")
    request = _json(body)
    action = "sqs:" + _SQS_SINGLE.get(operation, operation)
    if operation == "GetQueueUrl":
        owner = str(request.get("QueueOwnerAWSAccountId") or account)
        name = str(request.get("QueueName", "*"))
        return [Call(action, f"arn:aws:sqs:{region}:{owner}:{name}")]
    if operation == "ListQueues":
        return [Call(action, "*")]  # no resource-level form
    if operation == "CreateQueue" or "QueueUrl" not in request:
        name = str(request.get("QueueName", "*"))
        return [Call(action, f"arn:aws:sqs:{region}:{account}:{name}")]
    return [Call(action, queue_arn(str(request["QueueUrl"]), region))]


def _table_arn(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


_TRANSACT_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}


def dynamodb_calls(target: str, body: bytes, region: str, account: str) -> list[Call]:
    operation = target.split(".", 1)[-1]
    request = _json(body)
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [
            Call(f"dynamodb:{operation}", _table_arn(table, region, account))
            for table in (request.get("RequestItems") or {})
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        calls = []
        for item in request.get("TransactItems") or []:
            for kind, detail in item.items():
                single = _TRANSACT_ITEMS.get(kind, "ConditionCheckItem")
                if operation == "TransactGetItems":
                    single = "GetItem"
                table = _table_arn(str(detail.get("TableName")), region, account)
                calls.append(Call(f"dynamodb:{single}", table))
        return calls
    table = _table_arn(str(request.get("TableName", "*")), region, account)
    if request.get("IndexName") and operation in ("Query", "Scan"):
        table = f"{table}/index/{request['IndexName']}"
    return [Call(f"dynamodb:{operation}", table)]


def ssm_calls(target: str, body: bytes, region: str, account: str) -> list[Call]:
    operation = target.removeprefix("AmazonSSM.")
    request = _json(body)
    names = request.get("Names") or [request.get("Name", "*")]
    calls = []
    for name in names:
        text = str(name)
        path = text[1:] if text.startswith("/") else text
        calls.append(Call(f"ssm:{operation}", f"arn:aws:ssm:{region}:{account}:parameter/{path}"))
    return calls


def scheduler_calls(method: str, path: str, body: bytes, region: str, account: str) -> list[Call]:
    parts = urllib.parse.urlsplit(path)
    segments = [urllib.parse.unquote(s) for s in parts.path.strip("/").split("/")]
    query = urllib.parse.parse_qs(parts.query)
    base = f"arn:aws:scheduler:{region}:{account}"
    if segments[0] == "schedules" and len(segments) == 1:
        return [Call("scheduler:ListSchedules", "*")]  # no resource-level form
    if segments[0] == "schedules" and len(segments) == 2:
        request = _json(body)
        group = (query.get("groupName") or [request.get("GroupName") or "default"])[0]
        operation = {
            "POST": "CreateSchedule",
            "PUT": "UpdateSchedule",
            "GET": "GetSchedule",
            "DELETE": "DeleteSchedule",
        }.get(method, method)
        calls = [Call(f"scheduler:{operation}", f"{base}:schedule/{group}/{segments[1]}")]
        role = (request.get("Target") or {}).get("RoleArn")
        if operation in ("CreateSchedule", "UpdateSchedule") and role:
            calls.append(
                Call(
                    "iam:PassRole",
                    str(role),
                    {"iam:PassedToService": "scheduler.amazonaws.com"},
                )
            )
        return calls
    if segments[0] == "schedule-groups":
        if len(segments) == 1:
            return [Call("scheduler:ListScheduleGroups", "*")]
        operation = {"POST": "CreateScheduleGroup", "GET": "GetScheduleGroup"}.get(
            method, "DeleteScheduleGroup"
        )
        return [Call(f"scheduler:{operation}", f"{base}:schedule-group/{segments[1]}")]
    return []


def lambda_calls(method: str, path: str, region: str, account: str) -> list[Call]:
    from lambda_jobs_tools.emulator.invoke_api import PATH_PREFIX, PATH_SUFFIX, function_name

    route = urllib.parse.urlsplit(path).path
    if method == "POST" and route.startswith(PATH_PREFIX) and route.endswith(PATH_SUFFIX):
        identifier = urllib.parse.unquote(route[len(PATH_PREFIX) : -len(PATH_SUFFIX)])
        name = function_name(identifier)
        return [Call("lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:{name}")]
    return []


def calls_of(
    signed: Signed, method: str, path: str, headers: dict[str, str], body: bytes, *, account: str
) -> list[Call]:
    """The authorizations one request needs (empty: not understood)."""
    target = headers.get("x-amz-target") or ""
    match signed.service:
        case "sqs":
            return sqs_calls(target, body, signed.region, account) if target else []
        case "dynamodb":
            return dynamodb_calls(target, body, signed.region, account) if target else []
        case "ssm":
            return ssm_calls(target, body, signed.region, account) if target else []
        case "scheduler":
            return scheduler_calls(method, path, body, signed.region, account)
        case "lambda":
            return lambda_calls(method, path, signed.region, account)
    return []
