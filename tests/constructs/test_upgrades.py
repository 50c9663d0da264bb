"""Upgrading a backend: synth-diff tests of the changes a team makes to a deployed app.

Each scenario is one stack, synthesized before and after its change with the same lock file
(``lambda-jobs:lock-file`` context). Changes that keep every stateful resource (adding a lane,
adding a queue) synthesize, and the test compares the two templates: the queues', functions',
DLQs', table's and schedule group's logical ids and their replacement-requiring properties
(``FifoQueue``, the group's ``Name``) are unchanged. Changes that would delete or replace one
(switching ``fifo``, renaming or removing a queue, a new construct id or nesting, dropping the job
store) are refused at synth with a message naming the resource and what would be lost; removing
the entry from the lock file is the explicit consent, after which the same app synthesizes.

Four apps (before, after-kept, after-refused, after-refused once consented) share one node
process; the module synthesizes each once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import App, CfnOutput, Stack
from aws_cdk import aws_iam as iam
from lambda_jobs_cdk import (
    GoatJobBackend,
    JobCode,
    JobQueue,
    JobStore,
    LambJobBackend,
    PriorityLane,
)
from lambda_jobs_cdk.upgrades import LOCK_CONTEXT, lock_path

from constructs import Construct
from stacks.demo_code import DEMO_PROJECT
from tests.constructs.templates import resources

STATEFUL = (
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::Scheduler::ScheduleGroup",
)
TWO_LANES = [
    PriorityLane(min_priority=-100, max_priority=0),
    PriorityLane(min_priority=1, max_priority=100),
]
THREE_LANES = [
    PriorityLane(min_priority=-100, max_priority=-1),
    PriorityLane(min_priority=0, max_priority=49),
    PriorityLane(min_priority=50, max_priority=100),
]

Build = Callable[[Construct, JobCode], None]


def _goat(*queues: JobQueue, **props: Any) -> Build:
    return lambda scope, code: _new(GoatJobBackend, scope, code, queues, props)


def _lamb(*queues: JobQueue, **props: Any) -> Build:
    return lambda scope, code: _new(LambJobBackend, scope, code, queues, props)


def _new(kind: Any, scope: Construct, code: JobCode, queues: Any, props: dict[str, Any]) -> None:
    props = dict(props)
    id = props.pop("id", "Jobs")
    parent = props.pop("parent", None)
    consumer = props.pop("consumer", False)
    stack = scope
    if parent is not None:
        scope = Construct(scope, parent)
    backend = kind(scope, id, code=code, queues=list(queues) or None, **props)
    if consumer:
        # Another stack of the app uses the client configuration and a grant: CloudFormation
        # exports every queue URL and ARN they reference, and refuses to remove an import.
        web = Stack(cast(Construct, stack.node.scope), f"{stack.node.id}Web")
        backend.grant_enqueue(iam.Role(web, "WebRole", assumed_by=iam.AccountRootPrincipal()))
        CfnOutput(web, "JobsConfig", value=backend.client_config)


@dataclass(frozen=True)
class Change:
    before: Build
    after: Build


KEPT = {
    # One lane -> two: the existing queue becomes the lane serving priority 0.
    "GoatAddLane": Change(_goat(JobQueue("default")), _goat(JobQueue("default", lanes=TWO_LANES))),
    # Two lanes -> three (the upper band split): both existing queues stay lanes.
    "GoatSplitLane": Change(
        _goat(JobQueue("default", lanes=TWO_LANES)),
        _goat(JobQueue("default", lanes=THREE_LANES)),
    ),
    "LambAddLane": Change(_lamb(JobQueue("default")), _lamb(JobQueue("default", lanes=TWO_LANES))),
    "GoatExported": Change(
        _goat(JobQueue("default"), consumer=True),
        _goat(JobQueue("default", lanes=TWO_LANES), JobQueue("reports"), consumer=True),
    ),
    "GoatAddQueue": Change(
        _goat(JobQueue("default")), _goat(JobQueue("default"), JobQueue("reports", fifo=True))
    ),
}
REFUSED = {
    "GoatToFifo": Change(_goat(JobQueue("default")), _goat(JobQueue("default", fifo=True))),
    "GoatFromFifo": Change(
        _goat(JobQueue("default"), JobQueue("ordered", fifo=True)),
        _goat(JobQueue("default"), JobQueue("ordered")),
    ),
    "GoatRename": Change(
        _goat(JobQueue("default"), JobQueue("reports")),
        _goat(JobQueue("default"), JobQueue("reporting")),
    ),
    "LambRemoveQueue": Change(
        _lamb(JobQueue("default"), JobQueue("reports")), _lamb(JobQueue("default"))
    ),
    "GoatRemoveLane": Change(
        _goat(JobQueue("default", lanes=TWO_LANES)), _goat(JobQueue("default"))
    ),
    "GoatNewId": Change(_goat(), _goat(id="Work")),
    "LambNested": Change(_lamb(), _lamb(parent="Jobs2")),
    "GoatDropStore": Change(_goat(job_store=JobStore()), _goat()),
}


def _app(lock: Path, changes: dict[str, Change], *, after: bool) -> App:
    app = App(analytics_reporting=False, context={LOCK_CONTEXT: str(lock)})
    code = JobCode.from_directory(DEMO_PROJECT, tasks=["demo_tasks"])
    for name, change in changes.items():
        (change.after if after else change.before)(Stack(app, name), code)
    return app


def _templates(app: App) -> dict[str, dict[str, Any]]:
    assembly = app.synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks}


class Upgrades:
    def __init__(self, tmp: Path) -> None:
        self.lock = tmp / "lambda-jobs.lock.json"
        self.before = _templates(_app(self.lock, {**KEPT, **REFUSED}, after=False))
        self.locked = json.loads(self.lock.read_text())
        self.after = _templates(_app(self.lock, KEPT, after=True))
        with pytest.raises(RuntimeError, match="Validation failed") as refused:
            _app(self.lock, REFUSED, after=True).synth()
        self.refusal = str(refused.value)
        self.lock_after_refusal = json.loads(self.lock.read_text())
        # Consent: remove every entry the refusal named, then the same change synthesizes.
        document = json.loads(self.lock.read_text())
        for stack, entries in document["stacks"].items():
            for logical_id in list(entries):
                if f"entry {logical_id!r} of stack {stack!r}" in self.refusal:
                    del entries[logical_id]
        self.lock.write_text(json.dumps(document))
        self.consented = _templates(_app(self.lock, REFUSED, after=True))
        self.lock_after_consent = json.loads(self.lock.read_text())


@pytest.fixture(scope="module")
def upgrades(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgrades]:
    yield Upgrades(tmp_path_factory.mktemp("upgrades"))


def _stateful(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for type_name in STATEFUL
        for logical_id, resource in resources(template, type_name).items()
    }


def _refusals(upgrades: Upgrades, stack: str) -> list[str]:
    return [line for line in upgrades.refusal.splitlines() if f"of stack {stack!r} from" in line]


@pytest.mark.parametrize("stack", list(KEPT))
def test_kept_changes_keep_every_stateful_logical_id_and_create_only_property(
    upgrades: Upgrades, stack: str
) -> None:
    before, after = _stateful(upgrades.before[stack]), _stateful(upgrades.after[stack])
    assert before.keys() <= after.keys()
    for logical_id, resource in before.items():
        assert after[logical_id]["Type"] == resource["Type"]
        for prop in ("FifoQueue", "Name"):
            assert after[logical_id]["Properties"].get(prop) == resource["Properties"].get(prop)
    assert upgrades.lock_after_refusal["stacks"][stack].keys() >= before.keys()


def test_adding_a_lane_keeps_the_queue_as_the_lane_serving_priority_zero(
    upgrades: Upgrades,
) -> None:
    (queue,) = [
        k
        for k in resources(upgrades.before["GoatAddLane"], "AWS::SQS::Queue")
        if k.startswith("JobsQueuedefault")
    ]
    after = upgrades.after["GoatAddLane"]
    mappings = resources(after, "AWS::Lambda::EventSourceMapping").values()
    assert {m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] for m in mappings} == {
        queue,
        next(k for k in resources(after, "AWS::SQS::Queue") if k.startswith("JobsQueuedefaultUp1")),
    }
    config = json.dumps(after["Outputs"])
    assert queue in config  # the client configuration's -100..0 lane is the old queue


def _exports(template: dict[str, Any]) -> dict[str, Any]:
    return {
        output["Export"]["Name"]: output["Value"]
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }


def test_a_kept_change_keeps_every_export_another_stack_imports(upgrades: Upgrades) -> None:
    """Client configuration and grants used from another stack (issue 30.8): CloudFormation
    cannot remove an export while it is imported, so a lane or queue added must keep them all."""
    before = _exports(upgrades.before["GoatExported"])
    after = _exports(upgrades.after["GoatExported"])
    assert before
    assert before.items() <= after.items()
    assert len(after) > len(before)  # the new lane's and queue's references


def test_lamb_adding_a_lane_keeps_the_function_that_holds_its_async_queue(
    upgrades: Upgrades,
) -> None:
    before = set(resources(upgrades.before["LambAddLane"], "AWS::Lambda::Function"))
    after = set(resources(upgrades.after["LambAddLane"], "AWS::Lambda::Function"))
    assert before < after
    assert [f for f in after - before if f.startswith("JobsFunctiondefaultUp1")]


def test_every_queue_dlq_table_and_schedule_group_is_retained(upgrades: Upgrades) -> None:
    for template in upgrades.before.values():
        for logical_id, resource in _stateful(template).items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("GoatToFifo", [r"replaces the queue 'default' lane -100\.\.100 .*FifoQueue goes from "
                        r"false to true.*every job waiting in it would be lost"]),
        ("GoatFromFifo", [r"removes the FIFO dead-letter queue .*every dead-lettered FIFO job",
                          r"replaces the queue 'ordered' .*FifoQueue goes from true to false"]),
        ("GoatRename", [r"removes the queue 'reports' lane -100\.\.100 of GoatRename/Jobs "
                        r"\(AWS::SQS::Queue JobsQueuereports[0-9A-F]{8}\)"]),
        ("LambRemoveQueue", [r"removes the function of queue 'reports' .*every job waiting in "
                             r"its asynchronous-invoke queue would be lost"]),
        ("GoatRemoveLane", [r"removes the queue 'default' lane 1\.\.100 .*JobsQueuedefaultUp1"]),
        ("GoatNewId", [r"removes the dead-letter queue of GoatNewId/Jobs",
                       r"removes the schedule group of GoatNewId/Jobs .*pending delayed jobs",
                       r"removes the queue 'default'"]),
        ("LambNested", [r"removes the function of queue 'default'",
                        r"removes the schedule group of LambNested/Jobs"]),
        ("GoatDropStore", [r"removes the job table of GoatDropStore/Jobs .*every job's status "
                           r"and result would be lost"]),
    ],
)  # fmt: skip
def test_changes_that_lose_jobs_are_refused_naming_the_resource_and_the_loss(
    upgrades: Upgrades, stack: str, expected: list[str]
) -> None:
    refusals = _refusals(upgrades, stack)
    for pattern in expected:
        assert any(re.search(pattern, line) for line in refusals), (pattern, refusals)
    # A refused synth leaves the lock as it was.
    assert upgrades.lock_after_refusal["stacks"][stack] == upgrades.locked["stacks"][stack]


def test_removing_the_lock_entry_is_the_consent_and_the_change_then_synthesizes(
    upgrades: Upgrades,
) -> None:
    renamed = _stateful(upgrades.consented["GoatRename"])
    assert any(k.startswith("JobsQueuereporting") for k in renamed)
    locked = upgrades.lock_after_consent["stacks"]["GoatRename"]
    assert any(k.startswith("JobsQueuereporting") for k in locked)
    assert not any(k.startswith("JobsQueuereports") for k in locked)
    # The retained old queue: RETAIN on the resource CloudFormation now removes.
    before = _stateful(upgrades.before["GoatRename"])
    old = next(k for k in before if k.startswith("JobsQueuereports"))
    assert before[old]["DeletionPolicy"] == "Retain"


def test_the_lock_file_is_on_under_the_cli_and_off_in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CDK_OUTDIR", raising=False)
    assert lock_path(App(analytics_reporting=False)) is None
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    assert lock_path(App(analytics_reporting=False, outdir=str(tmp_path))) == Path(
        "lambda-jobs.lock.json"
    )
    off = App(analytics_reporting=False, outdir=str(tmp_path), context={LOCK_CONTEXT: False})
    assert lock_path(off) is None
