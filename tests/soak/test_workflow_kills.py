"""Workflows under kills and duplicates: every successor starts once, every workflow finishes.

Chains, chords and chains inside groups (the three shapes of
:func:`tests.soak.test_workflow_faults.enqueue_flow`) of steps that run 0.25 s; every first-stage
message and every branch step delivered twice, while environments running steps are SIGKILLed.
Checked: every workflow succeeded; a step not killed started once, a killed one ran to its end
once after; every successor (the chord's join, each branch's next step) ran once.

Kept apart from the bookkeeping-fault test so that the two run side by side in ``make test``'s
second pass (each times its functions, so neither shares the machine with the first pass).
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs.envelope import Envelope
from lambda_jobs.workflows.canvas import step_job_id

from tests.e2e.conftest import deliver_again
from tests.soak import report
from tests.soak.conftest import SoakBackend
from tests.soak.sizes import WORKFLOW_CHORD, WORKFLOW_FLOWS, WORKFLOW_KILLS
from tests.soak.soak_jobs import wait_for
from tests.soak.test_kills import environment_of, running
from tests.soak.test_workflow_faults import (
    BRANCHES,
    CHAIN,
    all_ended,
    branch_ids,
    enqueue_flow,
    job_ids,
    joined_values,
    ours,
    shape_of,
    shapes,
    step_keys,
)

pytestmark = pytest.mark.e2e


JOB_SECONDS = 0.25


def first_stage(wf: lambda_jobs.Workflow, prefix: str, index: int) -> list[Envelope]:
    """The envelopes of the first stage of flow ``index`` (as :func:`enqueue_flow` made it)."""
    key = f"{prefix}{index:04d}"
    now = datetime.now(UTC)
    if shape_of(index) == BRANCHES:  # each branch's first step
        return [
            step_envelope(branch, 0, 0, "soak_tasks.link", [start], f"{key}-{name}0")
            for branch, start, name in zip(branch_ids(wf), (0, 10), "ab", strict=True)
        ]
    if shape_of(index) == CHAIN:
        return [
            Envelope(
                id=step_job_id(wf.id, 0, 0),
                task="soak_tasks.link",
                args=[0],
                kwargs={"key": f"{key}-0", "seconds": JOB_SECONDS},
                enqueued_at=now,
                workflow={"v": 1, "id": wf.id, "stage": 0, "member": 0},
            )
        ]
    return [
        Envelope(
            id=step_job_id(wf.id, 0, m),
            task="soak_tasks.slow_member",
            args=[f"{key}-m{m}", m, JOB_SECONDS],
            enqueued_at=now,
            workflow={"v": 1, "id": wf.id, "stage": 0, "member": m},
        )
        for m in range(WORKFLOW_CHORD)
    ]


def step_envelope(  # noqa: PLR0917 - one step's place, task and arguments
    workflow_id: str, stage: int, member: int, task: str, args: list[Any], key: str
) -> Envelope:
    """The envelope of a ``link`` (``args``: its value) or ``slow_member`` (``args``: its key
    and number) step of workflow ``workflow_id``, as the workflow sends it."""
    link = task == "soak_tasks.link"
    return Envelope(
        id=step_job_id(workflow_id, stage, member),
        task=task,
        args=args if link else [*args, JOB_SECONDS],
        kwargs={"key": key, "seconds": JOB_SECONDS} if link else {},
        enqueued_at=datetime.now(UTC),
        workflow={"v": 1, "id": workflow_id, "stage": stage, "member": member},
    )


def later_branch_steps(wf: lambda_jobs.Workflow, prefix: str, index: int) -> dict[str, Envelope]:
    """Step key -> envelope of the branch steps of flow ``index`` after each branch's first
    (sent again once they started: before, a copy would be the first delivery)."""
    if shape_of(index) != BRANCHES:
        return {}
    key = f"{prefix}{index:04d}"
    first, second = branch_ids(wf)
    steps = [step_envelope(first, 1, 0, "soak_tasks.link", [1], f"{key}-a1")]
    steps += [
        step_envelope(second, 1, m, "soak_tasks.slow_member", [f"{key}-b1m{m}", m], f"{key}-b1m{m}")
        for m in range(2)
    ]
    return {(e.kwargs.get("key") or e.args[0]): e for e in steps}


@pytest.mark.parametrize("soak_backend", ["goat-short-store", "lamb-store"], indirect=True)
def test_kills_and_duplicates_every_workflow_finishes(soak_backend: SoakBackend) -> None:
    backend = soak_backend
    lane = "lamb" if backend.name.startswith("lamb") else "goat"
    prefix = f"wfk-{lane}-{uuid.uuid4().hex[:4]}-"
    rng = random.Random(20261207)
    began = time.monotonic()
    flows = [enqueue_flow(prefix, index, JOB_SECONDS) for index in range(WORKFLOW_FLOWS)]
    workflows = [wf for wf, _ in flows]
    copies = [e for index, wf in enumerate(workflows) for e in first_stage(wf, prefix, index)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda envelope: deliver_again(backend, envelope.to_json()), copies))
    later: dict[str, Envelope] = {}
    for index, wf in enumerate(workflows):
        later.update(later_branch_steps(wf, prefix, index))
    copied = len(copies)
    planned = WORKFLOW_KILLS[lane]
    kills: dict[str, int] = {}  # step key -> the pid killed while running it
    target: tuple[dict[str, Any], float] | None = None
    deadline = time.monotonic() + 120 + WORKFLOW_FLOWS * 3
    while time.monotonic() < deadline and not all_ended(workflows):
        runs = backend.runs(prefix)
        for key in {r["key"] for r in runs if r["outcome"] == "started"} & later.keys():
            deliver_again(
                backend, later.pop(key).to_json()
            )  # a copy of each branch step once it started
            copied += 1
        if target is not None and time.time() >= target[1]:
            started = target[0]
            current = running(runs).get(started["pid"])
            if current is not None and current[0] == started:
                assert environment_of(started["pid"], backend.emulator.pid)
                os.kill(started["pid"], signal.SIGKILL)
                kills[started["key"]] = started["pid"]
            target = None
        if target is None and len(kills) < planned:
            candidates = [
                run
                for pid, (run, _) in running(runs).items()
                if pid not in kills.values()
                and run["key"] not in kills
                and environment_of(pid, backend.emulator.pid)
            ]
            if candidates:
                run = rng.choice(candidates)
                target = (run, run["at"] + rng.uniform(0.02, JOB_SECONDS * 0.8))
        time.sleep(0.05)
    wait_for(lambda: all_ended(workflows), timeout=max(deadline - time.monotonic(), 30))
    settled_s = time.monotonic() - began
    late = {e.id for e in later.values()}  # started after the last look: copied now, and seen
    for envelope in later.values():
        deliver_again(backend, envelope.to_json())
        copied += 1
    wait_for(
        lambda: late <= {x.get("id") for x in backend.function_lines("skipped_duplicate")},
        timeout=60,
    )
    for wf in workflows:
        if wf.status == "running":
            wf.refresh()
    runs = backend.runs(prefix)
    statuses = Counter(wf.status for wf in workflows)
    started = Counter(r["key"] for r in runs if r["outcome"] == "started")
    finished = Counter(r["key"] for r in runs if r["outcome"] == "succeeded")
    keys = [key for index in range(len(flows)) for key in step_keys(prefix, index)]
    successors = [
        key for key in keys if key.endswith(("-1", "-2", "-joined", "-a1", "-b1m0", "-b1m1"))
    ]
    never = sorted(key for key in keys if finished[key] == 0)
    # A step not killed starts once (its copies and redeliveries are skipped by the claim); a
    # successor not killed likewise; a killed one may end twice (killed after its last line).
    twice = sorted(key for key in keys if key not in kills and max(started[key], finished[key]) > 1)
    rerun = [key for key in kills if started[key] > 1]
    dead = ours(backend, job_ids(flows))
    report.add(
        f"workflow-kills[{lane}]",
        f"{len(flows)} workflows ({shapes(len(flows))}) of 0.25 s steps, {copied} messages "
        f"(first stages, branch steps) delivered twice, {len(kills)} environments SIGKILLed "
        "mid-step; all ended after "
        f"{settled_s:.0f} s: {dict(statuses)}; {len(keys)} steps ({len(successors)} successors), "
        f"{sum(started.values())} starts ({len(rerun)} killed steps started again), "
        f"{len(twice)} steps not killed started twice, {len(never)} never ran (lost), "
        f"{len(dead)} in the DLQ",
    )
    assert statuses == {"succeeded": len(flows)}, [
        (wf.id, wf.status, wf.error) for wf in workflows if wf.status != "succeeded"
    ]
    assert [wf.result for wf in workflows] == [result for _, result in flows]
    assert not never, f"steps that never ran: {never[:10]}"
    assert not twice, f"steps not killed that started twice: {twice[:10]}"
    assert not dead
    assert len(kills) >= (planned + 1) // 2, f"only {len(kills)} of {planned} kills landed"
    assert all(finished[key] >= 1 for key in kills)
    joined = [(r["key"], r["values"]) for r in runs if r["task"] == "soak_tasks.joined"]
    assert sorted(joined) == [
        (f"{prefix}{index:04d}-joined", joined_values(index))
        for index in range(len(flows))
        if shape_of(index) != CHAIN
    ]
