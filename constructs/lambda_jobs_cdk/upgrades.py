"""What a backend holds jobs in, and the synth-time refusal of changes that would lose them.

A queue lane, a dead-letter queue, the job table, the schedule group and (on Lamb) a lane
function hold jobs. CloudFormation deletes such a resource when its logical id leaves the
template, and replaces it (a new, empty one; the old one deleted by default) when a property whose
update behaviour is "Replacement" changes: ``FifoQueue`` of ``AWS::SQS::Queue`` (the SQS page:
"You can't change the queue type after you create it"), ``Name`` of
``AWS::Scheduler::ScheduleGroup`` ("Update requires: Replacement", and deleting a group deletes its
schedules). docs/reference/constructs.md, "Upgrading a backend", has the table of changes.

Two defences:

- the removal policy (``JobBackend(removal_policy=...)``, default ``RETAIN``): CloudFormation's
  ``DeletionPolicy`` and ``UpdateReplacePolicy`` (pages "DeletionPolicy attribute" and
  "UpdateReplacePolicy attribute"), so a resource that leaves the stack or is replaced is kept
  with its jobs rather than deleted;
- the lock file (:class:`StatefulLock`): each stack's stateful resources (logical id, type and
  create-only properties) are written to ``lambda-jobs.lock.json`` at synth; a later synth that
  would delete or replace one of them is refused with a message naming the resource and what would
  be lost. Removing the resource's entry from the file is how a user says the change is wanted.

The lock file is on under the CDK CLI (``cdk synth``/``deploy`` set ``CDK_OUTDIR``), at
``lambda-jobs.lock.json`` in the app's directory; the context key ``lambda-jobs:lock-file`` gives
another path, or turns it off with ``false``. An ``App`` built in-process (tests, scripts) has no
lock file unless that context key names one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import CfnDeletionPolicy, CfnResource, Stack, Token

from constructs import Construct, IValidation

LOCK_CONTEXT = "lambda-jobs:lock-file"
LOCK_FILE_NAME = "lambda-jobs.lock.json"
LOCK_VERSION = 1
_REGISTRY_ID = "LambdaJobsStatefulLock"


@dataclass(frozen=True)
class Stateful:
    """One resource that holds jobs: what it is, what its loss loses, what replaces it.

    ``create_only`` maps CloudFormation property names whose change replaces the resource to the
    value this synth gives them.
    """

    resource: CfnResource
    what: str
    lost: str
    create_only: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        retained = self.resource.cfn_options.deletion_policy == CfnDeletionPolicy.RETAIN
        return {
            "retained": retained,
            "type": self.resource.cfn_resource_type,
            "what": self.what,
            "lost": self.lost,
            "create_only": dict(self.create_only),
        }


def lock_path(scope: Construct) -> Path | None:
    """The lock file of ``scope``'s app, or None when it is off (see the module docstring)."""
    value = scope.node.try_get_context(LOCK_CONTEXT)
    if value is False or value in {"", "false"}:
        return None
    if isinstance(value, str):
        return Path(value)
    if value is not None:
        raise ValueError(f"context {LOCK_CONTEXT} must be a file path or false, got {value!r}")
    if os.environ.get("CDK_OUTDIR"):
        return Path(LOCK_FILE_NAME)
    return None


def register(stack: Stack, stateful: Stateful) -> None:
    """Record ``stateful`` in ``stack``'s lock (created, with its validation, on first use)."""
    lock = stack.node.try_find_child(_REGISTRY_ID)
    if lock is None:
        lock = StatefulLock(stack, _REGISTRY_ID)
    assert isinstance(lock, StatefulLock)
    lock.resources.append(stateful)


class StatefulLock(Construct):
    """The stateful resources of one stack, checked against (then written to) the lock file."""

    def __init__(self, scope: Stack, id: str) -> None:
        super().__init__(scope, id)
        self.stack = scope
        self.resources: list[Stateful] = []
        self.node.add_validation(_LockValidation(self))

    def current(self) -> dict[str, dict[str, Any]]:
        """Logical id -> lock entry of every stateful resource of this synth."""
        return {
            str(self.stack.resolve(item.resource.logical_id)): item.entry()
            for item in self.resources
        }

    def check(self) -> list[str]:
        path = lock_path(self)
        if path is None:
            return []
        document = _read(path)
        stack_name = self.stack.stack_name
        if Token.is_unresolved(stack_name):  # a nested stack's name is CloudFormation's to give
            stack_name = self.stack.node.path
        locked: dict[str, dict[str, Any]] = document["stacks"].get(stack_name, {})
        current = self.current()
        errors = [
            problem
            for logical_id, old in sorted(locked.items())
            if (problem := _problem(logical_id, old, current.get(logical_id))) is not None
        ]
        if errors:
            return [
                f"{problem}. If this is intended, remove the entry {logical_id!r} of stack "
                f"{stack_name!r} from {path} (commit the file with the change)"
                for logical_id, problem in errors
            ]
        document["stacks"][stack_name] = current
        _write(path, document)
        return []


def _problem(
    logical_id: str, old: dict[str, Any], new: dict[str, Any] | None
) -> tuple[str, str] | None:
    """(logical id, why the change loses jobs) or None when ``new`` keeps ``old``'s resource."""
    what = f"{old['what']} ({old['type']} {logical_id})"
    if new is None or new["type"] != old["type"]:
        fate = (
            "leave it outside the stack (removal policy RETAIN) where nothing serves it"
            if old.get("retained")
            else "delete it"
        )
        return logical_id, (
            f"this change removes the {what} from the stack: CloudFormation would {fate}, and "
            f"{old['lost']} would be lost"
        )
    for prop, before in sorted(old.get("create_only", {}).items()):
        after = new["create_only"].get(prop)
        if after != before:
            return logical_id, (
                f"this change replaces the {what}: its {prop} goes from {json.dumps(before)} to "
                f"{json.dumps(after)}, which CloudFormation can only do by creating a new "
                f"resource, and {old['lost']} would be lost with the old one"
            )
    return None


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": LOCK_VERSION, "stacks": {}}
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} is not a lambda-jobs lock file (JSON): {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("stacks"), dict):
        raise ValueError(f"{path} is not a lambda-jobs lock file (no 'stacks' object)")
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@jsii.implements(IValidation)
class _LockValidation:
    def __init__(self, lock: StatefulLock) -> None:
        self.lock = lock

    def validate(self) -> list[str]:
        return self.lock.check()
