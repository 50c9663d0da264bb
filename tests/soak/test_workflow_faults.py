"""Workflows under faults: the next stage starts exactly once, and every workflow finishes.

**Bookkeeping faults** (:func:`test_bookkeeping_faults_every_workflow_finishes_each_step_once`).
One emulator runs a Goat and a Lamb backend (both with the job store) whose functions reach
DynamoDB through a :class:`FaultProxy` (``AWS_ENDPOINT_URL_DYNAMODB``); the client's
configuration, which the workflow keeps and the worker uses to enqueue later stages, points at it
too. The proxy takes DynamoDB and the enqueue down at one point of each workflow's bookkeeping
(an outage: every request of that point fails for 2 s, then the service is back), the point
drawn from the workflow id:

- ``shard``: the first join of stage 0 (``UpdateItem`` of its shard item);
- ``results``: the completer's read of stage 0's results (``BatchGetItem``);
- ``finish``: the write of the workflow's final status (``UpdateItem`` of the workflow item);
- ``send``: each send of a later stage's job (``SendMessageBatch`` / ``Invoke``) answers 5xx;
- ``lost``: each such send is accepted and answered 500 (the job runs; the worker cannot know).

The step whose bookkeeping failed comes again (Goat lists the record, Lamb raises for Lambda's
retry); its claim says ``finished``, so the task does not run again and the bookkeeping is
finished. Checked: every workflow succeeded with its result, every step (a successor included)
ran exactly once, the handler reported unfinished bookkeeping, nothing reached the DLQ, and the
EMF metric ``WorkflowsSucceeded`` counted each workflow once.

**Kills and duplicates**: ``tests/soak/test_workflow_kills.py``, with the same shapes.

The workflows are of three shapes (:func:`enqueue_flow`): a chain of 3, a chord, and chains
inside a group, ``chain(group(chain(link, link), chain(link, group(member, member))), joined)``,
whose branches run as child workflows with faults and duplicates of their own.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import aws
from lambda_jobs.workflows.canvas import step_job_id, without_result

from tests.soak import report
from tests.soak.conftest import (
    SoakBackend,
    dead_letter_attribute,
    destination_job_id,
    store_backends_behind,
)
from tests.soak.fault_proxy import OUTAGE_SECONDS, FaultProxy
from tests.soak.sizes import WORKFLOW_CHORD, WORKFLOW_FLOWS
from tests.soak.soak_app import STACKS
from tests.soak.soak_jobs import soak_tasks, wait_for

pytestmark = pytest.mark.e2e

KINDS = ("shard", "results", "finish", "send", "lost")
_ID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
SHARD = re.compile(rf"workflow#{_ID}#0#s0")
RESULTS = re.compile(rf"workflow#{_ID}#0#0")
WORKFLOW = re.compile(rf"workflow#{_ID}")


def kind_of(workflow_id: str) -> str:
    """The fault of a workflow: drawn from its (random) id, so the proxy needs no registry."""
    return KINDS[uuid.UUID(workflow_id).int % len(KINDS)]


def outage(target: str, body: bytes) -> tuple[str, str] | None:
    """The outage key and fault of a request of the workflows' bookkeeping, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if target == "DynamoDB_20120810.UpdateItem":
        pk = data["Key"]["pk"]["S"]
        found = SHARD.fullmatch(pk)
        if found and kind_of(found[1]) == "shard":
            return f"shard:{pk}", "5xx"
        found = WORKFLOW.fullmatch(pk)
        if found and kind_of(found[1]) == "finish" and ":status" in data["UpdateExpression"]:
            return f"finish:{pk}", "5xx"
        return None
    if target == "DynamoDB_20120810.BatchGetItem":
        for request in data["RequestItems"].values():
            found = RESULTS.fullmatch(request["Keys"][0]["pk"]["S"])
            if found and kind_of(found[1]) == "results":
                return f"results:{found[0]}", "5xx"
        return None
    if target.startswith("DynamoDB_"):
        return None
    if target == "AmazonSQS.SendMessageBatch":
        bodies = [entry["MessageBody"] for entry in data["Entries"]]
    elif target == "AmazonSQS.SendMessage":
        bodies = [data["MessageBody"]]
    elif not target:  # Lambda Invoke: the payload is the envelope
        bodies = [body.decode()]
    else:
        return None
    for text in bodies:
        envelope = json.loads(text)
        workflow = envelope.get("workflow") if isinstance(envelope, dict) else None
        if isinstance(workflow, dict) and workflow.get("stage", 0) >= 1:
            kind = kind_of(workflow["id"])
            if kind in ("send", "lost"):
                return f"{kind}:{envelope['id']}", "5xx" if kind == "send" else "lost_answer"
    return None


@pytest.fixture(scope="module")
def faulty(
    soak_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FaultProxy, dict[str, SoakBackend]]]:
    """A Goat and a Lamb backend (job store on) whose functions reach DynamoDB through a proxy
    that applies :func:`outage`."""
    directory = tmp_path_factory.mktemp("workflow-faults")
    with (
        FaultProxy("http://127.0.0.1:9", rate=0.0, seed=19, outage=outage) as proxy,
        store_backends_behind(proxy, soak_assembly, directory) as backends,
    ):
        yield proxy, backends
        aws.reset()


CHAIN, CHORD, BRANCHES = range(3)


def shape_of(index: int) -> int:
    """The shape of flow ``index``: :data:`CHAIN`, :data:`CHORD` or :data:`BRANCHES`."""
    return index % 3


def shapes(count: int) -> str:
    """``count`` flows' shapes, said for the report."""
    made = Counter(shape_of(index) for index in range(count))
    return (
        f"{made[CHAIN]} chains of 3, {made[CHORD]} chords of {WORKFLOW_CHORD} and their join, "
        f"{made[BRANCHES]} groups of 2 chains (one holding a group) and their join"
    )


def enqueue_flow(prefix: str, index: int, seconds: float) -> tuple[lambda_jobs.Workflow, Any]:
    """Chain of 3 ``link`` steps, a chord of ``slow_member``s and ``joined``, or chains inside
    a group and ``joined`` (:func:`shape_of`); returns the workflow and the result it must end
    with."""
    key = f"{prefix}{index:04d}"
    if shape_of(index) == BRANCHES:
        flow = lambda_jobs.chain(
            lambda_jobs.group(
                lambda_jobs.chain(
                    soak_tasks.link.prepare(0, key=f"{key}-a0", seconds=seconds),
                    soak_tasks.link.prepare(key=f"{key}-a1", seconds=seconds),
                ),
                lambda_jobs.chain(
                    soak_tasks.link.prepare(10, key=f"{key}-b0", seconds=seconds),
                    lambda_jobs.group(
                        without_result(soak_tasks.slow_member.prepare(f"{key}-b1m{m}", m, seconds))
                        for m in range(2)
                    ),
                ),
            ),
            soak_tasks.joined.prepare(key=f"{key}-joined"),
        )
        return flow.enqueue(), 2
    if shape_of(index) == CHAIN:
        flow = lambda_jobs.chain(
            soak_tasks.link.prepare(0, key=f"{key}-0", seconds=seconds),
            soak_tasks.link.prepare(key=f"{key}-1", seconds=seconds),
            soak_tasks.link.prepare(key=f"{key}-2", seconds=seconds),
        )
        return flow.enqueue(), 3
    flow = lambda_jobs.chain(
        lambda_jobs.group(
            soak_tasks.slow_member.prepare(f"{key}-m{m}", m, seconds) for m in range(WORKFLOW_CHORD)
        ),
        soak_tasks.joined.prepare(key=f"{key}-joined"),
    )
    return flow.enqueue(), WORKFLOW_CHORD


def step_keys(prefix: str, index: int) -> list[str]:
    key = f"{prefix}{index:04d}"
    if shape_of(index) == BRANCHES:
        return [f"{key}-{n}" for n in ("a0", "a1", "b0", "b1m0", "b1m1", "joined")]
    if shape_of(index) == CHAIN:
        return [f"{key}-{n}" for n in range(3)]
    return [*(f"{key}-m{m}" for m in range(WORKFLOW_CHORD)), f"{key}-joined"]


def joined_values(index: int) -> list[Any]:
    """What the ``joined`` step of flow ``index`` (a chord or branches) must receive."""
    if shape_of(index) == BRANCHES:
        return [2, [0, 1]]  # branch a: 0 -> 1 -> 2; branch b: 10 -> 11, then [0*0, 1*1]
    return [m * m for m in range(WORKFLOW_CHORD)]


def branch_ids(wf: lambda_jobs.Workflow) -> list[str]:
    """The ids of the two branches (child workflows) of a :data:`BRANCHES` flow."""
    return [step_job_id(wf.id, 0, m) for m in range(2)]


def all_ended(workflows: list[lambda_jobs.Workflow]) -> bool:
    return all(wf.status != "running" or wf.refresh().status != "running" for wf in workflows)


def job_ids(flows: list[tuple[lambda_jobs.Workflow, Any]]) -> set[str]:
    """The job ids of every step of ``flows`` (made by :func:`enqueue_flow`), and the ids of
    their branches (each a child workflow)."""
    ids: set[str] = set()
    for index, (wf, _) in enumerate(flows):
        if shape_of(index) == BRANCHES:
            first, second = branch_ids(wf)
            ids.update((first, second, step_job_id(wf.id, 1, 0)))
            ids.update(step_job_id(first, s, 0) for s in range(2))
            ids.update(step_job_id(second, s, m) for s, m in ((0, 0), (1, 0), (1, 1)))
            continue
        shape = [1, 1, 1] if shape_of(index) == CHAIN else [WORKFLOW_CHORD, 1]
        ids.update(step_job_id(wf.id, s, m) for s, n in enumerate(shape) for m in range(n))
    return ids


def ours(backend: SoakBackend, ids: set[str]) -> list[dict[str, Any]]:
    """The DLQ entries (dead letters and Lamb on-failure records) of jobs in ``ids``."""
    dead: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(dead)
    return [
        m
        for m in dead.values()
        if (dead_letter_attribute(m, "job_id") or destination_job_id(m)) in ids
    ]


def emf_counts(backend: SoakBackend, stack: str) -> Counter[str]:
    """The ``Workflows*`` counts of the EMF lines the functions of ``stack`` wrote."""
    counts: Counter[str] = Counter()
    for line in backend.emulator_log.read_text(encoding="utf-8").splitlines():
        start = line.find("{")
        if f"[{stack}-" not in line or start < 0 or '"_aws"' not in line:
            continue
        document = json.loads(line[start:])
        for name in ("WorkflowsSucceeded", "WorkflowsFailed"):
            counts[name] += document.get(name, 0)
    return counts


def unfinished_lines(backend: SoakBackend, workflow_ids: set[str]) -> list[dict[str, Any]]:
    """The handler's lines of step deliveries whose bookkeeping did not finish."""
    return [
        line
        for outcome in ("succeeded", "skipped_duplicate")
        for line in backend.function_lines(outcome)
        if "the step's next delivery finishes it" in (line.get("store_error") or "")
        and line.get("workflow_id") in workflow_ids
    ]


@pytest.mark.parametrize("lane", ["goat", "lamb"])
def test_bookkeeping_faults_every_workflow_finishes_each_step_once(
    faulty: tuple[FaultProxy, dict[str, SoakBackend]],
    lane: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, backends = faulty
    backend = backends[lane]
    config: dict[str, Any] = json.loads(backend.config_value)
    config["endpoints"] = dict.fromkeys(config["endpoints"], proxy.url)
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(config))
    aws.reset()
    prefix = f"wff-{lane}-"
    began = time.monotonic()
    flows: list[tuple[lambda_jobs.Workflow, Any]] = []
    kinds: Counter[str] = Counter()
    # Every fault at least twice (once on each shape, as a rule), and WORKFLOW_FLOWS in all.
    while len(flows) < WORKFLOW_FLOWS or min(kinds[kind] for kind in KINDS) < 2:
        flows.append(enqueue_flow(prefix, len(flows), 0.0))
        kinds[kind_of(flows[-1][0].id)] += 1
    workflows = [wf for wf, _ in flows]
    wait_for(lambda: all_ended(workflows), timeout=120 + 4 * len(flows))
    settled_s = time.monotonic() - began
    for wf in workflows:
        if wf.status == "running":
            wf.refresh()
    statuses = Counter(wf.status for wf in workflows)
    runs = backend.runs(prefix)
    finished = Counter(r["key"] for r in runs if r["outcome"] == "succeeded")
    keys = [key for index in range(len(flows)) for key in step_keys(prefix, index)]
    twice = sorted(key for key in keys if finished[key] > 1)
    never = sorted(key for key in keys if finished[key] == 0)
    ids = job_ids(flows)
    workflow_ids = {wf.id for wf in workflows} | {
        branch
        for index, wf in enumerate(workflows)
        if shape_of(index) == BRANCHES
        for branch in branch_ids(wf)
    }
    unfinished = unfinished_lines(backend, workflow_ids)
    dead = ours(backend, ids)
    emf = emf_counts(backend, STACKS[f"{lane}-store"])
    outages: Counter[str] = Counter()
    failed_requests = 0
    for key, requests in proxy.outages.items():
        kind, _, rest = key.partition(":")
        found = re.search(_ID, rest)
        if found and (found[1] in workflow_ids or found[1] in ids):
            outages[kind] += 1
            failed_requests += requests
    report.add(
        f"workflow-faults[{lane}]",
        f"{len(flows)} workflows ({shapes(len(flows))}); outages ({OUTAGE_SECONDS:.0f} s each) "
        "by point: "
        f"{', '.join(f'{n} {k}' for k, n in sorted(outages.items()))} ({failed_requests} "
        "requests failed); "
        f"{len(unfinished)} step deliveries left their bookkeeping unfinished and came again; "
        f"all ended after {settled_s:.0f} s: {dict(statuses)}; {len(keys)} steps, "
        f"{sum(finished[key] for key in keys)} executions, {len(twice)} ran twice, "
        f"{len(never)} never ran, {len(dead)} in the DLQ; EMF WorkflowsSucceeded "
        f"{emf['WorkflowsSucceeded']}, WorkflowsFailed {emf['WorkflowsFailed']}",
    )
    assert statuses == {"succeeded": len(flows)}, [
        (wf.id, kind_of(wf.id), wf.status, wf.error) for wf in workflows if wf.status != "succeeded"
    ]
    assert [wf.result for wf in workflows] == [result for _, result in flows]
    assert not twice, f"steps that ran twice: {twice[:10]}"
    assert not never, f"steps that never ran: {never[:10]}"
    assert not dead
    joined = {r["key"]: r["values"] for r in runs if r["task"] == "soak_tasks.joined"}
    assert joined == {
        f"{prefix}{index:04d}-joined": joined_values(index)
        for index in range(len(flows))
        if shape_of(index) != CHAIN
    }
    assert set(outages) == set(KINDS), outages
    assert unfinished, "no step's bookkeeping failed: nothing was tested"
    # The metric counts each workflow once, however often its last step came again.
    assert emf == Counter(WorkflowsSucceeded=len(flows)), emf
