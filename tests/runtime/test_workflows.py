"""Workflows in-process: the canvas, inline mode, the envelope's ``workflow`` field, and the
job store's sharded join against moto DynamoDB (real HTTP), concurrent and duplicated.

The same under ``lambda-jobs local`` on both backends: tests/e2e/test_workflows.py.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import envelope as envelope_format
from lambda_jobs.envelope import Envelope
from lambda_jobs.errors import EnvelopeError, InvalidJobError
from lambda_jobs.jobstore import workflow_state
from lambda_jobs.workflows.canvas import step_job_id, without_result
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime.job_table import TABLE, make_table


@lambda_jobs.task(name="wf.add")
def add(value: int, amount: int) -> int:
    return value + amount


@lambda_jobs.task(name="wf.total")
def total(values: list[int]) -> int:
    return sum(values)


@lambda_jobs.task(name="wf.boom")
def boom(message: str = "boom") -> None:
    raise RuntimeError(message)


@lambda_jobs.task(name="wf.const")
def const(value: int) -> int:
    return value


@pytest.fixture
def inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "inline")


def test_inline_chain_passes_each_result_on(inline: None) -> None:
    wf = lambda_jobs.chain(add.prepare(1, 2), add.prepare(10), add.prepare(100)).enqueue()  # type: ignore[call-arg]
    assert isinstance(wf, lambda_jobs.Workflow)
    assert (wf.status, wf.result) == ("succeeded", 113)
    assert [s.status for s in wf.steps] == ["succeeded"] * 3
    assert wf.steps[1].job_id == step_job_id(wf.id, 1, 0)
    assert wf.refresh() is wf  # inline: nothing to re-read


def test_inline_chord_gets_results_in_member_order(inline: None) -> None:
    wf = lambda_jobs.chain(
        lambda_jobs.group(const.prepare(i) for i in range(20)),
        total.prepare(),  # type: ignore[call-arg]
    ).enqueue()
    assert (wf.status, wf.result) == ("succeeded", sum(range(20)))
    plain = lambda_jobs.group(const.prepare(i) for i in range(5)).enqueue()
    assert plain.result == [0, 1, 2, 3, 4]


def test_inline_failure_stops_the_rest(inline: None) -> None:
    wf = lambda_jobs.chain(
        add.prepare(1, 2),
        without_result(boom.prepare("no")),
        add.prepare(3),  # type: ignore[call-arg]
    ).enqueue()
    assert wf.status == "failed"
    assert wf.error == "RuntimeError: no"
    assert wf.failed_step == step_job_id(wf.id, 1, 0)
    assert len(wf.steps) == 2  # the third never ran


def test_a_step_awaiting_a_result_cannot_be_first_or_enqueued_alone(inline: None) -> None:
    # Fits (value, amount) only with the predecessor's result first.
    waiting = add.prepare(10)  # type: ignore[call-arg]
    with pytest.raises(InvalidJobError, match="missing a required argument: 'amount'"):
        add.enqueue(10)  # type: ignore[call-arg]
    with pytest.raises(InvalidJobError, match="missing a required argument"):
        lambda_jobs.enqueue_many([waiting])
    with pytest.raises(InvalidJobError, match="the first step of a workflow has no predecessor"):
        lambda_jobs.chain(waiting).enqueue()
    with pytest.raises(InvalidJobError, match="missing a required argument"):
        lambda_jobs.chain(const.prepare(1), without_result(waiting)).enqueue()


@lambda_jobs.task(name="wf.echo")
def echo(values: Any) -> Any:
    return values


def test_nesting_refuses_what_it_cannot_run_and_says_so(inline: None) -> None:
    with pytest.raises(InvalidJobError, match="chain\\(\\) takes prepared jobs"):
        lambda_jobs.chain("not a job")  # type: ignore[arg-type]
    with pytest.raises(
        InvalidJobError,
        match=r"a chain inside a group cannot have on_failure: the error step runs once for the "
        r"whole workflow; give on_failure to the outermost chain",
    ):
        lambda_jobs.group(lambda_jobs.chain(const.prepare(1), on_failure=const.prepare(2)))
    with pytest.raises(InvalidJobError, match="a chain inside a chain cannot have on_failure"):
        lambda_jobs.chain(lambda_jobs.chain(const.prepare(1), on_failure=const.prepare(2)))
    # The first step of a branch of the first stage has no predecessor result either.
    with pytest.raises(InvalidJobError, match="the first step of a workflow has no predecessor"):
        lambda_jobs.group(lambda_jobs.chain(add.prepare(1), const.prepare(2))).enqueue()  # type: ignore[call-arg]
    inner = lambda_jobs.chain(const.prepare(1), add.prepare(1))  # type: ignore[call-arg]
    flat = lambda_jobs.chain(inner, add.prepare(1))  # type: ignore[call-arg]
    assert flat.enqueue().result == 3


def test_inline_chains_inside_groups_pass_results_and_nest_them_in_member_order(
    inline: None,
) -> None:
    flow = lambda_jobs.chain(
        const.prepare(100),
        lambda_jobs.group(
            lambda_jobs.chain(add.prepare(1), add.prepare(10)),  # type: ignore[call-arg]
            lambda_jobs.chain(
                without_result(const.prepare(5)),
                lambda_jobs.group(add.prepare(1), add.prepare(2)),  # type: ignore[call-arg]
            ),
            without_result(const.prepare(7)),
        ),
        echo.prepare(),  # type: ignore[call-arg]
    )
    plan = workflow_state_plan(flow)
    assert [s.get("task") for s in plan[1]["steps"]] == ["chain", "chain", "wf.const"]
    wf = flow.enqueue()
    assert (wf.status, wf.error) == ("succeeded", None)
    assert wf.result == [111, [6, 7], 7]
    tree = [(s.branch, s.stage, s.member, s.kind, s.task, s.status) for s in wf.steps]
    assert tree == [
        (None, 0, 0, "job", "wf.const", "succeeded"),
        (None, 1, 0, "chain", "chain", "succeeded"),
        ("1.0", 0, 0, "job", "wf.add", "succeeded"),
        ("1.0", 1, 0, "job", "wf.add", "succeeded"),
        (None, 1, 1, "chain", "chain", "succeeded"),
        ("1.1", 0, 0, "job", "wf.const", "succeeded"),
        ("1.1", 1, 0, "job", "wf.add", "succeeded"),
        ("1.1", 1, 1, "job", "wf.add", "succeeded"),
        (None, 1, 2, "job", "wf.const", "succeeded"),
        (None, 2, 0, "job", "wf.echo", "succeeded"),
    ]
    branch = step_job_id(wf.id, 1, 0)
    assert wf.steps[1].job_id == branch
    assert wf.steps[3].job_id == step_job_id(branch, 1, 0)
    # A chain of one part is that part; a branch may hold a chain in a group in a chain.
    deep = lambda_jobs.group(
        lambda_jobs.chain(const.prepare(1)),
        lambda_jobs.chain(
            const.prepare(2),
            lambda_jobs.group(lambda_jobs.chain(add.prepare(1), add.prepare(1))),  # type: ignore[call-arg]
        ),
    ).enqueue()
    assert deep.result == [1, [4]]
    assert [s.branch for s in deep.steps if s.kind == "job"][-2:] == ["0.1/1.0", "0.1/1.0"]


def test_inline_a_failed_step_in_a_branch_fails_its_member(inline: None) -> None:
    failing = lambda_jobs.chain(
        lambda_jobs.group(
            lambda_jobs.chain(const.prepare(1), without_result(boom.prepare("in branch"))),
            const.prepare(2),
        ),
        echo.prepare(),  # type: ignore[call-arg]
        on_failure=notify.prepare(),  # type: ignore[call-arg]
    ).enqueue()
    branch = step_job_id(failing.id, 0, 0)
    assert (failing.status, failing.error) == ("failed", "RuntimeError: in branch")
    assert failing.failed_step == step_job_id(branch, 1, 0)
    assert [s.task for s in failing.steps].count("wf.echo") == 0
    assert [s.task for s in failing.steps].count("wf.notify") == 1
    assert failing.steps[0].status == "failed"  # the branch
    tolerated = lambda_jobs.chain(
        lambda_jobs.group(
            lambda_jobs.chain(const.prepare(1), without_result(boom.prepare("tolerated"))),
            const.prepare(2),
            tolerate=1,
        ),
        echo.prepare(),  # type: ignore[call-arg]
    ).enqueue()
    assert tolerated.status == "succeeded"
    marker = {
        "lambda_jobs.error": {
            "job_id": step_job_id(step_job_id(tolerated.id, 0, 0), 1, 0),
            "type": "RuntimeError",
            "message": "tolerated",
        }
    }
    assert tolerated.result == [marker, 2]


def test_the_envelope_workflow_field_is_optional_and_versioned() -> None:
    now = datetime.now(UTC)
    marker = {"v": 1, "id": "w1", "stage": 2, "member": 7}
    step = Envelope(id="j", task="t", enqueued_at=now, workflow=marker)
    assert json.loads(step.to_json())["workflow"] == marker
    assert envelope_format.from_json(step.to_json()).workflow == marker
    old = Envelope(id="j", task="t", enqueued_at=now).to_dict()
    assert "workflow" not in old
    assert envelope_format.from_dict(old).workflow is None  # envelopes from before still run
    with pytest.raises(EnvelopeError, match="this runtime reads workflow format 1"):
        envelope_format.from_dict({**old, "workflow": {**marker, "v": 2}})
    with pytest.raises(EnvelopeError, match="integers 'stage' and 'member'"):
        envelope_format.from_dict({**old, "workflow": {**marker, "member": -1}})


def test_a_thousand_members_join_once_under_concurrency_and_duplicates(moto: MotoServer) -> None:
    """Members recorded from 16 threads, then every one again (duplicate deliveries): exactly one
    first-time writer completes the stage, results come back in member order, and no item
    is written more than 100 times (10 shard items of 100, one stage item of 10)."""
    dynamodb = make_table(moto)
    members = 1000

    def record(member: int) -> bool:
        return workflow_state.record_member(
            dynamodb, TABLE, "wf-1", 0, member, members, json.dumps(member * 2), 3600
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        completed = list(pool.map(record, range(members)))
    assert completed.count(True) == 1
    with ThreadPoolExecutor(max_workers=16) as pool:
        again = list(pool.map(record, range(members)))
    assert all(again)  # a duplicate after completion resumes it (idempotent)
    assert workflow_state.results(dynamodb, TABLE, "wf-1", 0, members) == [
        m * 2 for m in range(members)
    ]

    def size(pk: str, attribute: str) -> int:
        item: dict[str, Any] = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": pk}})["Item"]
        return len(item[attribute]["SS"])

    shards = [size(workflow_state.shard_pk("wf-1", 0, k), "done") for k in range(10)]
    assert shards == [100] * 10
    assert size(workflow_state.stage_pk("wf-1", 0), "shards") == 10


def test_a_ten_thousand_step_stage_is_stored_in_chunks_and_a_huge_step_is_refused() -> None:
    steps = [{"task": "wf.const", "args": [i, "x" * 100]} for i in range(10_000)]
    chunks = workflow_state.chunks_of(steps)
    assert len(chunks) > 1
    assert all(len(c.encode()) <= workflow_state.PLAN_CHUNK_BYTES for c in chunks)
    assert [s for c in chunks for s in json.loads(c)] == steps
    with pytest.raises(ValueError, match=r"wf.const is 400,0\d\d bytes as JSON, over the 307,200"):
        workflow_state.chunks_of([{"task": "wf.const", "args": ["x" * 400_000]}])
    big = lambda_jobs.chain(
        const.prepare(0),
        lambda_jobs.group(
            lambda_jobs.chain(*(without_result(echo.prepare("x" * 50_000)) for _ in range(8))),
            const.prepare(1),
        ),
    )
    from lambda_jobs.workflows.canvas import plan_of

    with pytest.raises(
        ValueError,
        match=r"a chain inside a group \(with all its steps\) is 40\d,\d{3} bytes as JSON, over "
        r"the 307,200 bytes a step may take in the job store",
    ):
        workflow_state.chunks_of(plan_of(big)[1]["steps"])


def test_inline_tolerated_failures_are_markers_and_one_too_many_fails(inline: None) -> None:
    members = [const.prepare(1), boom.prepare("a"), boom.prepare("b")]
    wf = lambda_jobs.chain(
        lambda_jobs.group(*members, tolerate="all"), without_result(const.prepare(7))
    ).enqueue()
    assert (wf.status, wf.result) == ("succeeded", 7)
    marked = lambda_jobs.group(*members, tolerate=2).enqueue()
    assert marked.result[1] == {
        "lambda_jobs.error": {
            "job_id": marked.steps[1].job_id,
            "type": "RuntimeError",
            "message": "a",
        }
    }
    over = lambda_jobs.chain(lambda_jobs.group(*members, tolerate=1), const.prepare()).enqueue()  # type: ignore[call-arg]
    assert over.status == "failed" and over.error == "RuntimeError: a"
    with pytest.raises(InvalidJobError, match="a count of members >= 0 or 'all', got -1"):
        lambda_jobs.group(*members, tolerate=-1)


@lambda_jobs.task(name="wf.notify")
def notify(workflow_id: str) -> str:
    return f"notified {workflow_id}"


def test_inline_on_failure_runs_once_with_the_workflow_id(inline: None) -> None:
    failing = lambda_jobs.chain(
        const.prepare(1),
        without_result(boom.prepare("x")),
        on_failure=notify.prepare(),  # type: ignore[call-arg]
    ).enqueue()
    assert failing.status == "failed"
    error_step = failing.steps[-1]
    assert (error_step.task, error_step.status) == ("wf.notify", "succeeded")
    fine = lambda_jobs.chain(const.prepare(1), on_failure=notify.prepare()).enqueue()  # type: ignore[call-arg]
    assert fine.status == "succeeded" and [s.task for s in fine.steps] == ["wf.const"]


def test_inline_group_of_groups_nests_the_results_and_each_group_tolerates_its_own(
    inline: None,
) -> None:
    nested = lambda_jobs.chain(
        lambda_jobs.group(lambda_jobs.group(const.prepare(1), const.prepare(2)), const.prepare(3)),
        total.prepare(),  # type: ignore[call-arg]
    )
    plan = workflow_state_plan(nested)
    assert plan[0]["shape"] == {"tolerate": 0, "members": [{"tolerate": 0, "members": [0, 1]}, 2]}
    assert [s["args"] for s in plan[0]["steps"]] == [[1], [2], [3]]
    shaped = lambda_jobs.group(
        lambda_jobs.group(const.prepare(1), const.prepare(2)), const.prepare(3)
    ).enqueue()
    assert (shaped.status, shaped.result) == ("succeeded", [[1, 2], 3])
    assert [s.job_id for s in shaped.steps] == [step_job_id(shaped.id, 0, m) for m in range(3)]
    inner = lambda_jobs.group(boom.prepare("a"), const.prepare(2), tolerate=1)
    tolerated = lambda_jobs.group(inner, const.prepare(3)).enqueue()
    assert tolerated.status == "succeeded"
    assert tolerated.result[0][0]["lambda_jobs.error"]["message"] == "a"
    assert tolerated.result[0][1:] == [2] and tolerated.result[1] == 3
    # An inner group past its tolerance is one failed member of the group around it.
    over = lambda_jobs.group(boom.prepare("x"), boom.prepare("y"), tolerate=1)
    outer_tolerates = lambda_jobs.group(over, const.prepare(3), tolerate=1).enqueue()
    assert outer_tolerates.status == "succeeded"
    assert outer_tolerates.result[0]["lambda_jobs.error"]["message"] == "x"
    failed = lambda_jobs.group(over, const.prepare(3)).enqueue()
    assert (failed.status, failed.error) == ("failed", "RuntimeError: x")
    assert failed.failed_step == step_job_id(failed.id, 0, 0)


def workflow_state_plan(flow: lambda_jobs.Chain) -> list[dict[str, Any]]:
    from lambda_jobs.workflows.canvas import plan_of

    return plan_of(flow)
