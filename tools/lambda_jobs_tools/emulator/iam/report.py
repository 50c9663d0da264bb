"""The least-privilege report of ``lambda-jobs local --iam-report FILE``.

For each role of the emulated stacks: every (action, resource) its identity policies allow, and
whether any call of this run used it (an allowed call whose action and resource the grant
matches, with IAM's ``*``/``?`` wildcards, actions case-insensitively); then the calls denied.
Written as JSON when stopping. A grant no run uses is a candidate for removal; the docs' IAM
reference page lists those that stay and why.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from lambda_jobs_tools.emulator.iam.authorizer import Authorizer


@lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).match(value) is not None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def grants(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The (action, resource) pairs a policy document's Allow statements name."""
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    pairs: list[tuple[str, str]] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            for resource in _as_list(statement.get("Resource")):
                pairs.append((action, resource))
    return pairs


def build(authorizer: Authorizer) -> dict[str, Any]:
    usage = authorizer.usage
    roles: list[dict[str, Any]] = []
    for role in sorted(authorizer.roles.values(), key=lambda r: r.logical_id):
        allowed = usage.allowed.get(role.arn, set())
        entries = []
        for policy, document in role.policies:
            for action, resource in grants(document):
                used = sorted(
                    f"{a} {r}"
                    for a, r in allowed
                    if matches(action, a, ignore_case=True) and matches(resource, r)
                )
                entries.append(
                    {
                        "policy": policy,
                        "action": action,
                        "resource": resource,
                        "used": bool(used),
                        "calls": used[:20],
                    }
                )
        roles.append(
            {
                "role": role.logical_id,
                "arn": role.arn,
                "trusted_services": role.trusted_services,
                "managed_policies_not_evaluated": role.managed_policy_arns,
                "grants": entries,
                "denied": sorted(f"{a} {r}" for a, r in usage.denied.get(role.arn, set())),
            }
        )
    return {"roles": roles, "unchecked_requests": usage.unchecked}


def write(authorizer: Authorizer, path: Path) -> None:
    path.write_text(json.dumps(build(authorizer), indent=2) + "\n", encoding="utf-8")
