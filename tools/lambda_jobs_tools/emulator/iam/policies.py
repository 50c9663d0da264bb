"""The IAM side of one stack's template, resolved to local ARNs: who may do what.

Read from the template by :func:`read_stack_iam` (the provisioner's resolver turns every
``Ref``/``Fn::GetAtt``/``Fn::Join`` into the local ARNs): each ``AWS::IAM::Role`` with its inline
``Policies`` and every ``AWS::IAM::Policy`` / ``AWS::IAM::ManagedPolicy`` attached to it (the
identity policies), each function's execution role, each schedule's role, and each
``AWS::SQS::QueuePolicy`` (the queues' resource policies). AWS managed policies
(``ManagedPolicyArns``) are not in the template: they are listed, not evaluated (the functions'
``AWSLambdaBasicExecutionRole`` grants CloudWatch Logs, which runs outside the emulator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Resolve = Callable[[Any, str], Any]


@dataclass(slots=True)
class Role:
    """One role of the template and the identity policies attached to it."""

    logical_id: str
    name: str
    arn: str
    policies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(policy name, policy document) pairs."""
    managed_policy_arns: list[str] = field(default_factory=list)
    trusted_services: list[str] = field(default_factory=list)
    """The services its trust policy lets assume it (``lambda.amazonaws.com``, ...)."""

    @property
    def session_arn(self) -> str:
        """The assumed-role ARN AWS names in a denial (session named after the role)."""
        account = self.arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.name}/{self.name}"


@dataclass(slots=True)
class StackIam:
    """Everything the gateway evaluates for one stack."""

    roles: dict[str, Role] = field(default_factory=dict)
    """By role ARN."""
    function_roles: dict[str, str] = field(default_factory=dict)
    """Function name -> execution role ARN."""
    queue_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Queue ARN -> the resource policies naming it."""


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _services(trust: Any) -> list[str]:
    services: list[str] = []
    for statement in _list((trust or {}).get("Statement")):
        principal = statement.get("Principal") or {}
        if isinstance(principal, dict):
            services += [str(s) for s in _list(principal.get("Service"))]
    return services


def read_stack_iam(
    resources: dict[str, dict[str, Any]],
    resolve: Resolve,
    attributes: dict[tuple[str, str], Any],
    functions: dict[str, tuple[str, Any]],
    queue_arns_by_url: dict[str, str],
) -> StackIam:
    """The stack's roles, policies and function roles.

    ``functions`` maps a function's name to (its logical id, its ``Role`` property);
    ``queue_arns_by_url`` maps each queue's URL to its ARN (a queue policy names queues by URL).
    """
    iam = StackIam()
    by_logical: dict[str, Role] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        props = resource.get("Properties") or {}
        arn = str(attributes[(logical_id, "Arn")])
        role = Role(
            logical_id=logical_id,
            name=arn.rsplit("/", 1)[1],
            arn=arn,
            trusted_services=_services(resolve(props.get("AssumeRolePolicyDocument"), logical_id)),
        )
        for policy in _list(props.get("Policies")):
            document = resolve(policy.get("PolicyDocument"), f"role {logical_id} policy")
            role.policies.append((str(resolve(policy.get("PolicyName"), logical_id)), document))
        role.managed_policy_arns = [
            str(arn) for arn in _list(resolve(props.get("ManagedPolicyArns"), logical_id))
        ]
        by_logical[logical_id] = role
        iam.roles[arn] = role
    by_name = {role.name: role for role in iam.roles.values()}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        props = resource.get("Properties") or {}
        document = resolve(props.get("PolicyDocument"), f"policy {logical_id}")
        for ref in _list(props.get("Roles")):
            name = str(resolve(ref, f"policy {logical_id} Roles"))
            attached = by_name.get(name.rsplit("/", 1)[-1])
            if attached is not None:
                attached.policies.append((logical_id, document))
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SQS::QueuePolicy":
            continue
        props = resource.get("Properties") or {}
        document = resolve(props.get("PolicyDocument"), f"queue policy {logical_id}")
        for url in _list(resolve(props.get("Queues"), f"queue policy {logical_id} Queues")):
            queue = queue_arns_by_url.get(str(url))
            if queue is not None:
                iam.queue_policies.setdefault(queue, []).append(document)
    for name, (logical_id, role_ref) in functions.items():
        role_arn = str(resolve(role_ref, f"function {logical_id} Role"))
        iam.function_roles[name] = role_arn
    return iam
