"""Workflows under ``lambda-jobs local`` on both backends (real moto DynamoDB, the handler under
awslambdaric): result passing, a chord's member order, failure, duplicate deliveries.

Each test enqueues through ``lambda_jobs.chain`` / ``group`` and reads the outcome through
``Workflow.refresh`` and the lines the demo tasks wrote (``Backend.events``).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs.config import load as load_config
from lambda_jobs.envelope import Envelope
from lambda_jobs.jobstore import workflow_state
from lambda_jobs.jobstore.records import _client, store_of
from lambda_jobs.workflows.canvas import step_job_id, without_result

from tests.e2e.conftest import Backend, deliver_again, demo_tasks, poll
from tests.e2e.test_job_store import job_lines

pytestmark = pytest.mark.e2e


def ended(wf: lambda_jobs.Workflow, timeout: float = 60) -> lambda_jobs.Workflow:
    poll(lambda: wf.refresh().status != "running", timeout=timeout, what=f"workflow {wf.id} to end")
    return wf


def tag() -> str:
    return f"wf-{uuid.uuid4().hex[:8]}"


def test_a_chain_of_three_passes_each_result_on(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        demo_tasks.add.prepare(1, 2, tag=t),
        demo_tasks.add.prepare(10, tag=t),
        demo_tasks.add.prepare(100, tag=t),
    ).enqueue()
    assert lambda_jobs.get_workflow(wf.id).status == "running"
    ended(wf)
    assert wf.status == "succeeded", wf.error
    assert wf.result == 113
    assert [s.status for s in wf.steps] == ["succeeded"] * 3
    values = sorted((e["value"], e["amount"]) for e in backend.events(task="add", tag=t))
    assert values == [(1, 2), (3, 10), (13, 100)]  # each step ran once, with its predecessor's


def test_a_chord_of_twenty_gets_the_results_in_member_order(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        lambda_jobs.group(demo_tasks.square.prepare(i, tag=t) for i in range(20)),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    ended(wf)
    assert wf.status == "succeeded", wf.error
    collected = backend.events(task="collect", tag=t)
    assert len(collected) == 1
    assert collected[0]["values"] == [i * i for i in range(20)]
    assert wf.result == sum(i * i for i in range(20))
    assert len(backend.events(task="square", tag=t)) == 20


def test_a_failed_step_ends_the_workflow_and_later_steps_never_start(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        demo_tasks.add.prepare(1, 2, tag=t),
        without_result(demo_tasks.failing.prepare(f"boom {t}")),
        demo_tasks.add.prepare(100, tag=t),
        on_failure=demo_tasks.hello.prepare(),  # gets the workflow id
    ).enqueue()
    ended(wf)
    assert wf.status == "failed"
    failed_id = step_job_id(wf.id, 1, 0)
    assert wf.failed_step == failed_id
    assert wf.error == f"RuntimeError: boom {t}"
    poll(lambda: wf.refresh().steps[1].status == "failed", timeout=20, what="the step's status")
    assert [s.status for s in wf.steps] == ["succeeded", "failed", "pending"]
    assert [e["amount"] for e in backend.events(task="add", tag=t)] == [2]  # the last never ran
    poll(
        lambda: backend.events(task="hello", greeting=f"Hello, {wf.id}!"),
        timeout=20,
        what="the on_failure step",
    )
    assert len(backend.events(task="hello", greeting=f"Hello, {wf.id}!")) == 1
    emf = backend.emulator.log_path.read_text(encoding="utf-8")
    assert '"WorkflowsFailed":1' in emf  # the EMF count of failed workflows


def test_duplicate_deliveries_of_every_member_start_the_successor_once(backend: Backend) -> None:
    t = tag()
    members = 5
    wf = lambda_jobs.chain(
        lambda_jobs.group(demo_tasks.square.prepare(i, tag=t) for i in range(members)),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    for member in range(members):  # each member's message a second time, as SQS or Lambda may
        deliver_again(backend, duplicate_of(wf, member, t))
    ended(wf)
    assert wf.status == "succeeded", wf.error
    poll(lambda: len(job_lines_of(backend, wf)) >= 2 * members, timeout=30, what="duplicates")
    lines = job_lines_of(backend, wf)
    assert {x["workflow_id"] for x in lines} == {wf.id}  # each line names its workflow and step
    assert {x["workflow_step"] for x in lines} == {f"0.{m}" for m in range(members)}
    assert len(backend.events(task="collect", tag=t)) == 1
    assert len(backend.events(task="square", tag=t)) == members  # each member ran once


def test_a_copy_arriving_after_the_next_stage_was_sent_sends_nothing_again(
    backend: Backend,
) -> None:
    """The join notes on the workflow item (``started``) that the next stage was sent; a member
    delivered again after that stops there: it neither reads its stage's results again (one read
    per member) nor sends the next stage again."""
    t = tag()
    wf = lambda_jobs.chain(
        lambda_jobs.group(demo_tasks.square.prepare(i, tag=t) for i in range(3)),
        without_result(demo_tasks.hello_later.prepare(t, delay=3)),  # running while the copy comes
    ).enqueue()
    config = load_config()
    client, table = _client(config), store_of(config).table

    def started() -> bool:
        item = workflow_state.load(client, table, wf.id)
        return item is not None and item.get("started") == 1

    poll(started, timeout=60, what="the second stage to be sent")
    log = backend.emulator.log_path
    member = step_job_id(wf.id, 0, 0)

    def member_lines() -> int:  # the handler's job line, written after the step's bookkeeping
        return sum(entry["id"] == member for entry in job_lines_of(backend, wf))

    successor = step_job_id(wf.id, 1, 0)
    successor_sends = (
        f"queued demo_tasks.hello_later {successor[:8]}"  # the async queue logs each event
        if backend.name == "lamb"
        else f"start  demo_tasks.hello_later {successor[:8]}"  # each delivery the ESM hands over
    )
    done = member_lines()
    deliver_again(backend, duplicate_of(wf, 0, t))
    poll(lambda: member_lines() > done, timeout=30, what="the late copy to be handled")
    ended(wf)
    assert wf.status == "succeeded", wf.error
    assert log.read_text(encoding="utf-8").count(successor_sends) == 1


def duplicate_of(wf: lambda_jobs.Workflow, member: int, t: str) -> str:
    """Member ``member``'s envelope of the square chord above, as a second delivery."""
    return Envelope(
        id=step_job_id(wf.id, 0, member),
        task="demo_tasks.square",
        args=[member],
        kwargs={"tag": t},
        enqueued_at=datetime.now(UTC),
        workflow={"v": 1, "id": wf.id, "stage": 0, "member": member},
    ).to_json()


def test_a_workflow_needs_the_job_store(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    config = dict(backend.config)
    del config["job_store"]
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(config))
    with pytest.raises(lambda_jobs.ConfigurationError, match=r"job_store=JobStore"):
        lambda_jobs.chain(demo_tasks.add.prepare(1, 2)).enqueue()


def job_lines_of(backend: Backend, wf: lambda_jobs.Workflow) -> list[dict[str, Any]]:
    """The function's log lines of the workflow's first stage's jobs."""
    ids = {step_job_id(wf.id, 0, m) for m in range(5)}
    found = []
    for line in backend.emulator.log_path.read_text(encoding="utf-8").splitlines():
        start = line.find('{"type": "lambda_jobs.job"')
        if start >= 0:
            entry = json.loads(line[start:])
            if entry.get("id") in ids:
                found.append(entry)
    return found


def test_cancel_stops_the_steps_not_started_and_every_later_stage(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        demo_tasks.hello.using(run_after=timedelta(seconds=3)).prepare(t),
        demo_tasks.add.prepare(1, tag=t),
    ).enqueue()
    wf.cancel()
    assert wf.status == "cancelled"
    assert [s.status for s in wf.steps] == ["cancelled", "pending"]
    with pytest.raises(lambda_jobs.JobStateError, match="has already ended"):
        wf.cancel()
    if backend.name == "goat":  # SQS still delivers the delayed message: acknowledged unrun
        first = step_job_id(wf.id, 0, 0)
        poll(
            lambda: [x for x in job_lines(backend, first) if x["outcome"] == "cancelled"],
            timeout=20,
            what="the worker to acknowledge the cancelled step",
        )
    assert not backend.events(task="hello", greeting=f"Hello, {t}!")
    assert not backend.events(task="add", tag=t)


def test_workflows_show_draws_the_steps(
    backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tools.ops.conftest import cli_json

    t = tag()
    wf = ended(
        lambda_jobs.chain(
            lambda_jobs.group(demo_tasks.square.prepare(i, tag=t) for i in range(3)),
            demo_tasks.collect.prepare(tag=t),
        ).enqueue()
    )
    shown = cli_json(capsys, "workflows", "show", wf.id)
    assert shown["status"] == "succeeded" and shown["result"] == 5
    assert [(s["stage"], s["member"], s["status"]) for s in shown["steps"]] == [
        (0, 0, "succeeded"),
        (0, 1, "succeeded"),
        (0, 2, "succeeded"),
        (1, 0, "succeeded"),
    ]
    assert shown["steps"][3]["task"] == "demo_tasks.collect"


def test_tolerated_failures_reach_the_successor_as_markers(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        lambda_jobs.group(
            demo_tasks.square.prepare(1, tag=t),
            demo_tasks.failing.prepare(f"tolerated {t}"),
            demo_tasks.square.prepare(3, tag=t),
            tolerate=1,
        ),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    ended(wf)
    assert wf.status == "succeeded", wf.error
    (collected,) = backend.events(task="collect", tag=t)
    marker = {
        "lambda_jobs.error": {
            "job_id": step_job_id(wf.id, 0, 1),
            "type": "RuntimeError",
            "message": f"tolerated {t}",
        }
    }
    assert collected["values"] == [1, marker, 9]
    assert wf.result == 10


def test_results_too_large_for_the_next_envelope_fail_the_workflow_naming_sizes(
    backend: Backend,
) -> None:
    t = tag()
    big = "x" * 60_000  # each greeting is kept (under the store's 64 KiB); 20 of them are not sent
    wf = lambda_jobs.chain(
        lambda_jobs.group(demo_tasks.hello.prepare(f"{big}{i}") for i in range(20)),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    ended(wf, timeout=90)
    assert wf.status == "failed"
    assert wf.error is not None
    assert re.search(
        r"is [\d,]+ bytes as JSON, over the \w+ backend's limit of [\d,]+ bytes", wf.error
    )
    assert not backend.events(task="collect", tag=t)  # nothing truncated, nothing sent


def test_a_group_of_groups_nests_the_results_and_tolerates_per_group(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        lambda_jobs.group(
            lambda_jobs.group(
                demo_tasks.square.prepare(1, tag=t),
                demo_tasks.failing.prepare(f"nested {t}"),
                tolerate=1,
            ),
            demo_tasks.square.prepare(3, tag=t),
        ),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    ended(wf)
    assert wf.status == "succeeded", wf.error
    (collected,) = backend.events(task="collect", tag=t)
    marker = {
        "lambda_jobs.error": {
            "job_id": step_job_id(wf.id, 0, 1),
            "type": "RuntimeError",
            "message": f"nested {t}",
        }
    }
    assert collected["values"] == [[1, marker], 9]
    assert [(s.stage, s.member) for s in wf.steps] == [(0, 0), (0, 1), (0, 2), (1, 0)]


def test_chains_inside_groups_pass_results_on_and_nest_them_in_member_order(
    backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tools.ops.conftest import cli_json

    t = tag()
    wf = lambda_jobs.chain(
        lambda_jobs.group(
            lambda_jobs.chain(
                demo_tasks.add.prepare(1, 2, tag=t), demo_tasks.add.prepare(10, tag=t)
            ),
            lambda_jobs.chain(
                demo_tasks.square.prepare(3, tag=t),
                lambda_jobs.group(
                    demo_tasks.add.prepare(1, tag=t),
                    lambda_jobs.chain(  # a branch inside a branch
                        demo_tasks.add.prepare(2, tag=t), demo_tasks.add.prepare(5, tag=t)
                    ),
                ),
            ),
            demo_tasks.square.prepare(4, tag=t),
        ),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    ended(wf)
    assert wf.status == "succeeded", wf.error
    (collected,) = backend.events(task="collect", tag=t)
    assert collected["values"] == [13, [10, 16], 16]  # each branch's last result, member order
    assert wf.result == 29
    values = sorted((e["value"], e["amount"]) for e in backend.events(task="add", tag=t))
    # Each ran once, with its predecessor's result.
    assert values == [(1, 2), (3, 10), (9, 1), (9, 2), (11, 5)]
    first, second = step_job_id(wf.id, 0, 0), step_job_id(wf.id, 0, 1)
    inner = step_job_id(second, 1, 1)
    tree = [(s.branch, s.stage, s.member, s.task, s.status, s.job_id) for s in wf.steps]
    assert tree == [
        (None, 0, 0, "chain", "succeeded", first),
        ("0.0", 0, 0, "demo_tasks.add", "succeeded", step_job_id(first, 0, 0)),
        ("0.0", 1, 0, "demo_tasks.add", "succeeded", step_job_id(first, 1, 0)),
        (None, 0, 1, "chain", "succeeded", second),
        ("0.1", 0, 0, "demo_tasks.square", "succeeded", step_job_id(second, 0, 0)),
        ("0.1", 1, 0, "demo_tasks.add", "succeeded", step_job_id(second, 1, 0)),
        ("0.1", 1, 1, "chain", "succeeded", inner),
        ("0.1/1.1", 0, 0, "demo_tasks.add", "succeeded", step_job_id(inner, 0, 0)),
        ("0.1/1.1", 1, 0, "demo_tasks.add", "succeeded", step_job_id(inner, 1, 0)),
        (None, 0, 2, "demo_tasks.square", "succeeded", step_job_id(wf.id, 0, 2)),
        (None, 1, 0, "demo_tasks.collect", "succeeded", step_job_id(wf.id, 1, 0)),
    ]
    shown = cli_json(capsys, "workflows", "show", wf.id)
    assert [(s["branch"], s["kind"], s["status"]) for s in shown["steps"]][:3] == [
        (None, "chain", "succeeded"),
        ("0.0", "job", "succeeded"),
        ("0.0", "job", "succeeded"),
    ]
    assert lambda_jobs.get_workflow(second).result == [10, 16]  # a branch is a workflow too


def test_a_failed_step_in_a_branch_fails_its_member_or_joins_as_a_marker(backend: Backend) -> None:
    t = tag()

    def flow(tolerate: int) -> lambda_jobs.Chain:
        return lambda_jobs.chain(
            lambda_jobs.group(
                lambda_jobs.chain(
                    demo_tasks.add.prepare(1, 2, tag=t),
                    without_result(demo_tasks.failing.prepare(f"branch {tolerate} {t}")),
                    demo_tasks.add.prepare(100, tag=t),
                ),
                demo_tasks.square.prepare(2, tag=t),
                tolerate=tolerate,
            ),
            demo_tasks.collect.prepare(tag=t),
            on_failure=demo_tasks.hello.prepare(),  # gets the workflow id
        )

    failing, tolerated = flow(0).enqueue(), flow(1).enqueue()
    ended(failing)
    assert failing.status == "failed"
    failed_step = step_job_id(step_job_id(failing.id, 0, 0), 1, 0)
    assert failing.failed_step == failed_step
    assert failing.error == f"RuntimeError: branch 0 {t}"
    poll(
        lambda: backend.events(task="hello", greeting=f"Hello, {failing.id}!"),
        timeout=20,
        what="the on_failure step",
    )
    ended(tolerated)
    assert tolerated.status == "succeeded", tolerated.error
    (collected,) = backend.events(task="collect", tag=t)  # only the tolerating one's
    marker = {
        "lambda_jobs.error": {
            "job_id": step_job_id(step_job_id(tolerated.id, 0, 0), 1, 0),
            "type": "RuntimeError",
            "message": f"branch 1 {t}",
        }
    }
    assert collected["values"] == [marker, 4]
    assert [e["amount"] for e in backend.events(task="add", tag=t)] == [2, 2]  # 100 never ran
    assert len(backend.events(task="hello", greeting=f"Hello, {failing.id}!")) == 1
    assert not backend.events(task="hello", greeting=f"Hello, {tolerated.id}!")
    failing.refresh()
    assert [(s.branch, s.status) for s in failing.steps][:4] == [
        (None, "failed"),
        ("0.0", "succeeded"),
        ("0.0", "failed"),
        ("0.0", "pending"),
    ]


def test_cancel_reaches_the_steps_of_a_branch_midway(backend: Backend) -> None:
    t = tag()
    wf = lambda_jobs.chain(
        lambda_jobs.group(
            lambda_jobs.chain(
                demo_tasks.add.prepare(1, 2, tag=t),
                without_result(demo_tasks.hello.using(run_after=timedelta(seconds=3)).prepare(t)),
                demo_tasks.add.prepare(100, tag=t),
            ),
            demo_tasks.square.prepare(2, tag=t),
        ),
        demo_tasks.collect.prepare(tag=t),
    ).enqueue()
    branch = step_job_id(wf.id, 0, 0)
    waiting = step_job_id(branch, 1, 0)
    poll(
        lambda: any(s.job_id == waiting and s.status == "enqueued" for s in wf.refresh().steps),
        timeout=30,
        what="the branch's delayed step to be enqueued",
    )
    with pytest.raises(
        lambda_jobs.JobStateError,
        match=rf"workflow {branch} is a chain inside a group of workflow {wf.id}: cancel {wf.id} "
        r"\(a branch cancelled on its own would never join its group\)",
    ):
        lambda_jobs.get_workflow(branch).cancel()
    wf.cancel()
    assert wf.status == "cancelled"
    statuses = {s.job_id: s.status for s in wf.steps}
    assert statuses[branch] == "cancelled"
    assert statuses[step_job_id(branch, 0, 0)] == "succeeded"
    assert statuses[waiting] == "cancelled"
    assert statuses[step_job_id(branch, 2, 0)] == "pending"
    assert statuses[step_job_id(wf.id, 1, 0)] == "pending"
    if backend.name == "goat":  # SQS still delivers the delayed message: acknowledged unrun
        poll(
            lambda: [x for x in job_lines(backend, waiting) if x["outcome"] == "cancelled"],
            timeout=20,
            what="the worker to acknowledge the cancelled step",
        )
    assert not backend.events(task="hello", greeting=f"Hello, {t}!")
    assert [e["amount"] for e in backend.events(task="add", tag=t)] == [2]
    assert not backend.events(task="collect", tag=t)
