"""Who is calling, and may they: the template's principals judged by the evaluator.

Principals are the template's roles. A caller is known by the access key it signs with:

- each function's processes get their execution role's name as access key (set by the
  emulator, :meth:`Authorizer.credentials`);
- any caller may sign with a role's name or logical id (with or without CDK's 8-hex suffix) as
  access key to act as that role: this
  is how an app acts as the role given ``grant_enqueue`` and an operator as the role given
  ``grant_operate`` (``AWS_ACCESS_KEY_ID=<role> lambda-jobs ...``);
- any other key acts as the ``--caller-role`` of ``lambda-jobs local`` if one is named, else its
  calls are served unchecked and counted as such in the report.

Each call is evaluated as AWS does within one account: the role's identity policies, the
resource's policy (queue policies), explicit deny over allow, with ``aws:SecureTransport`` true
(boto3 reaches AWS over HTTPS; the local endpoints are plain HTTP only because they are local).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lambda_jobs_tools.emulator.iam.evaluator import ALLOWED, Evaluator
from lambda_jobs_tools.emulator.iam.policies import Role, StackIam
from lambda_jobs_tools.emulator.iam.requests import Call

_HASHED = re.compile(r".+[0-9A-F]{8}")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    message: str = ""


@dataclass(slots=True)
class Usage:
    """What the report needs: every call seen, per principal."""

    allowed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """Role ARN -> (action, resource) pairs allowed."""
    denied: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    unchecked: int = 0


def denial_message(role: Role, call: Call, result: str) -> str:
    """AWS's wording ("Troubleshoot access denied error messages", IAM User Guide)."""
    why = (
        "with an explicit deny in a policy"
        if result == "ExplicitlyDenied"
        else f"because no identity-based policy allows the {call.action} action"
    )
    return (
        f"User: {role.session_arn} is not authorized to perform: {call.action} "
        f"on resource: {call.resource} {why}"
    )


class Authorizer:
    """The principals of every stack and the evaluator; thread-safe."""

    def __init__(
        self, stacks: Iterable[StackIam], evaluator: Evaluator, caller_role: str | None = None
    ) -> None:
        self.evaluator = evaluator
        self.roles: dict[str, Role] = {}
        self.queue_policies: dict[str, list[dict[str, Any]]] = {}
        self.function_roles: dict[str, str] = {}
        for stack in stacks:
            self.roles.update(stack.roles)
            self.queue_policies.update(stack.queue_policies)
            self.function_roles.update(stack.function_roles)
        self._by_key: dict[str, Role] = {}
        for role in self.roles.values():
            # "AppRole" names "AppRoleA1B2C3D4": CDK's logical ids end in an 8-hex hash.
            if _HASHED.fullmatch(role.logical_id):
                self._by_key.setdefault(role.logical_id[:-8], role)
            self._by_key.setdefault(role.logical_id, role)
            self._by_key[role.name] = role
        self.caller_role: Role | None = None
        if caller_role is not None:
            self.caller_role = self.role(caller_role)
        self.usage = Usage()
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], Decision] = {}
        """Policies do not change while the emulator runs: each decision is made once."""

    def role(self, key: str) -> Role:
        """The role named by ``key`` (its name, logical id or ARN); a clear error if none."""
        role = self._by_key.get(key) or self.roles.get(key)
        if role is None:
            known = ", ".join(sorted(r.logical_id for r in self.roles.values())) or "(none)"
            raise ValueError(f"no role {key!r} in the emulated stacks; their roles: {known}")
        return role

    def principal(self, access_key: str) -> Role | None:
        """The role a request signed with ``access_key`` acts as (None: not checked)."""
        return self._by_key.get(access_key) or self.caller_role

    def credentials(self, function_name: str) -> dict[str, str]:
        """Environment variables that make a function's SDK calls act as its execution role."""
        role = self.roles.get(self.function_roles.get(function_name, ""))
        if role is None:
            return {}
        return {"AWS_ACCESS_KEY_ID": role.name, "AWS_SECRET_ACCESS_KEY": "local"}

    def role_of_function(self, function_name: str) -> Role | None:
        return self.roles.get(self.function_roles.get(function_name, ""))

    def note_unchecked(self) -> None:
        with self._lock:
            self.usage.unchecked += 1

    def authorize(self, role: Role, call: Call) -> Decision:
        """Judge ``call`` as ``role``; raises :class:`ValueError` if the evaluator rejects the
        request's description (a bug of :mod:`~lambda_jobs_tools.emulator.iam.requests`)."""
        key = (role.arn, call.action, call.resource, tuple(sorted(call.context.items())))
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(role, call)
            self._decisions[key] = decision
        with self._lock:
            into = self.usage.allowed if decision.allowed else self.usage.denied
            into.setdefault(role.arn, set()).add(call.key())
        return decision

    def _decide(self, role: Role, call: Call) -> Decision:
        account = role.arn.split(":")[4]
        resource_policies = self.queue_policies.get(call.resource) or []
        simulation: dict[str, Any] = {
            "identityPolicies": [
                {"name": name, "policy": document} for name, document in role.policies
            ],
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
            "request": {
                "action": call.action,
                "principal": role.session_arn,
                "resource": {"accountId": account, "resource": call.resource},
                "contextVariables": {
                    "aws:SecureTransport": "true",
                    "aws:PrincipalArn": role.arn,
                    "aws:PrincipalAccount": account,
                    **call.context,
                },
            },
        }
        if resource_policies:
            simulation["resourcePolicy"] = {
                "Version": "2012-10-17",
                "Statement": [
                    statement
                    for document in resource_policies
                    for statement in _statements(document)
                ],
            }
        result = self.evaluator.decide(simulation)
        allowed = result == ALLOWED
        return Decision(allowed, "" if allowed else denial_message(role, call, result))


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement") or []
    return statements if isinstance(statements, list) else [statements]
