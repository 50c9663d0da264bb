"""``chain`` and ``group``, and the plan they compile to (docs/guide/workflows.md).

A plan is a list of *stages* run one after another; a stage is one step (a job) or a group of
steps that run at the same time. A chain's nested chains are flattened; a group's members are
jobs, groups or chains: a group of groups is one stage of all their jobs whose ``shape`` (nested
member indices, each group's ``tolerate``) gives the results their nesting back
(:func:`outcome_of`); a chain inside a group is one *branch* member ``{"branch": plan}`` holding
its own plan, run as a child workflow whose end is that member's outcome
(:mod:`lambda_jobs.workflows.start`; docs/guide/workflows.md, "Chains inside groups"). A step
receives its predecessor stage's outcome as its first positional argument: the return value
after a one-step stage, the list of the members' results in member order after a group, unless
it was wrapped in :func:`without_result`; a branch's first stage receives what its group does.

The plan is plain JSON (each step: task name, args, kwargs, queue, priority, delay, overrides,
whether it takes the result): it is stored in the workflow's job-store item, and the worker that
finishes a stage builds the next stage's jobs from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from lambda_jobs.errors import InvalidJobError
from lambda_jobs.job import PreparedJob

if TYPE_CHECKING:
    from lambda_jobs.workflows.handle import Workflow

#: Job ids of steps are derived from the workflow id and the step's position in this namespace.
STEP_NAMESPACE = uuid.UUID("6f1c6a52-4f0e-4b8e-9a51-6c1f3c9e2b1d")


def step_job_id(workflow_id: str, stage: int, member: int) -> str:
    """The job id of member ``member`` of stage ``stage``: the same on every computation."""
    return str(uuid.uuid5(STEP_NAMESPACE, f"{workflow_id}/{stage}/{member}"))


@dataclass(frozen=True, slots=True)
class NoResult:
    """A step that does not take its predecessor's result (made by :func:`without_result`)."""

    job: PreparedJob


def without_result(job: PreparedJob) -> NoResult:
    """Mark ``job`` as a step that runs with its own arguments only (no predecessor result)."""
    return NoResult(job)


Step = PreparedJob | NoResult


#: The task name a branch (a chain inside a group) shows in ``Workflow.steps``.
BRANCH_TASK = "chain"


def is_branch(step: dict[str, Any]) -> bool:
    """True for a planned member that is a chain inside a group (its plan under ``"branch"``)."""
    return "branch" in step


#: The key of the marker a tolerated failed member leaves in its group's results.
ERROR_MARKER = "lambda_jobs.error"


def error_marker(job_id: str, error_type: str, message: str) -> dict[str, Any]:
    """What a tolerated failed member contributes to its group's results (never a ``None``)."""
    return {ERROR_MARKER: {"job_id": job_id, "type": error_type, "message": message}}


class Group:
    """Steps that run at the same time; what follows receives their results in member order.
    ``tolerate`` members may fail (after their retries) without failing the workflow."""

    __slots__ = ("members", "tolerate")

    def __init__(self, members: list[Step | Group | Chain], tolerate: int = 0) -> None:
        self.members = members
        self.tolerate = tolerate

    def enqueue(self) -> Workflow:
        """Start this group as a workflow of one stage."""
        return Chain([self]).enqueue()


class Chain:
    """Stages run one after another; each starts after the one before it succeeded."""

    __slots__ = ("on_failure", "parts")

    def __init__(self, parts: list[Step | Group | Chain], on_failure: Step | None = None) -> None:
        self.parts = parts
        self.on_failure = on_failure

    def enqueue(self) -> Workflow:
        """Send the first stage; returns the :class:`~lambda_jobs.workflows.handle.Workflow`."""
        from lambda_jobs.workflows.start import enqueue_workflow

        on_failure = None if self.on_failure is None else _step(self.on_failure)
        if on_failure is not None and on_failure["awaits_result"] and not on_failure["result"]:
            raise InvalidJobError(str(on_failure["awaits_result"]))
        return enqueue_workflow(plan_of(self), on_failure)


def chain(*parts: Step | Group | Chain, on_failure: Step | None = None) -> Chain:
    """Steps, groups and chains to run one after another (a group followed by a step: a chord).

    ``on_failure``: a job that runs once if the workflow fails, with the workflow id as its first
    positional argument (unless wrapped in :func:`without_result`).
    """
    if not parts:
        raise InvalidJobError("chain() needs at least one step")
    for part in parts:
        _check_part(part, "chain")
    if on_failure is not None and not isinstance(on_failure, (PreparedJob, NoResult)):
        raise InvalidJobError(
            f"chain(on_failure=...) takes a prepared job, got {type(on_failure).__name__}"
        )
    return Chain(list(parts), on_failure)


def group(
    *members: Step | Group | Chain | Iterable[Step | Group | Chain], tolerate: int | str = 0
) -> Group:
    """Jobs to run at the same time: ``group(a.prepare(), b.prepare())`` or ``group(generator)``.
    A member may be a group: the results are nested the same way (``[[a, b], c]``), and each
    group's ``tolerate`` counts its own members (a nested group past its tolerance is one failed
    member of the group around it). A member may be a chain (a *branch*): its steps run one after
    another, its result is its last stage's outcome, and a failed step fails that member.

    ``tolerate``: how many members may fail (a count, or ``"all"``) and the workflow still goes
    on; what follows then receives a failed member's result as :func:`error_marker`.
    """
    flat: list[Any] = []
    for member in members:
        if isinstance(member, (PreparedJob, NoResult, Group, Chain)):
            flat.append(member)
        else:
            flat.extend(member)
    if not flat:
        raise InvalidJobError("group() needs at least one job")
    for member in flat:
        _check_part(member, "group")
    if tolerate == "all":
        tolerate = len(flat)
    if type(tolerate) is not int or tolerate < 0:
        raise InvalidJobError(
            f"group(tolerate=...) is a count of members >= 0 or 'all', got {tolerate!r}"
        )
    return Group(flat, tolerate)


def _check_part(part: Any, where: str) -> None:
    if not isinstance(part, (PreparedJob, NoResult, Group, Chain)):
        raise InvalidJobError(
            f"{where}() takes prepared jobs (Task.prepare(...)), groups and chains, got "
            f"{type(part).__name__}"
        )
    if isinstance(part, Chain) and part.on_failure is not None:
        raise InvalidJobError(
            f"a chain inside a {where} cannot have on_failure: the error step runs once for the "
            "whole workflow; give on_failure to the outermost chain"
        )


def plan_of(flow: Chain | Group) -> list[dict[str, Any]]:
    """The stages of ``flow`` as JSON-ready dicts: ``{"group": bool, "steps": [step, ...]}``; a
    chain inside a group is one step ``{"task": "chain", "branch": [its stages]}``."""
    stages = _stages(flow)
    _check_inputs(stages, has_input=False)
    return stages


def _stages(flow: Step | Group | Chain) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = []

    def add(part: Step | Group | Chain) -> None:
        if isinstance(part, Chain):
            for inner in part.parts:
                add(inner)
        elif isinstance(part, Group):
            steps: list[dict[str, Any]] = []
            shape = _flatten(part, steps)
            stage = {"group": True, "tolerate": part.tolerate, "steps": steps}
            if any(isinstance(m, dict) for m in shape["members"]):
                stage["shape"] = shape  # a group of groups: the nesting of the results
            stages.append(stage)
        else:
            stages.append({"group": False, "steps": [_step(part)]})

    add(flow)
    return stages


def _check_inputs(stages: list[dict[str, Any]], *, has_input: bool) -> None:
    """Check that each step that needs its predecessor's result gets one (the first stage of the
    workflow gets none; a branch's first stage gets what its group gets)."""
    for index, stage in enumerate(stages):
        first = index == 0 and not has_input
        for step in stage["steps"]:
            if is_branch(step):
                _check_inputs(step["branch"], has_input=not first)
            elif first:
                if step["awaits_result"] is not None and step["result"]:
                    raise InvalidJobError(
                        str(step["awaits_result"]).replace("Nothing was sent", "")
                        + ("(the first step of a workflow has no predecessor result)")
                    )
                step["result"] = False
            elif step["awaits_result"] is not None and not step["result"]:
                raise InvalidJobError(str(step["awaits_result"]))


def _flatten(group: Group, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Append ``group``'s jobs (nested groups' jobs in place, a chain as one branch step) to
    ``steps``; returns its shape: ``{"tolerate": n, "members": [step index or a nested group's
    shape, ...]}``."""
    members: list[Any] = []
    for part in group.members:
        member = part
        while isinstance(member, Chain) and len(member.parts) == 1:
            member = member.parts[0]  # a chain of one part is that part
        if isinstance(member, Group):
            members.append(_flatten(member, steps))
            continue
        members.append(len(steps))
        if isinstance(member, Chain):
            steps.append({"task": BRANCH_TASK, "branch": _stages(member)})
        else:
            steps.append(_step(member))
    return {"tolerate": group.tolerate, "members": members}


def is_error_marker(value: Any) -> bool:
    return isinstance(value, dict) and ERROR_MARKER in value


def outcome_of(results: list[Any], stage: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """``(values, failures)`` of a stage from its steps' ``results`` (member order): ``values``
    nested as the stage's ``shape`` says (as they are without one); ``failures`` the error
    markers of its failed members. A nested group with more failures than it tolerates is a
    failed member of the group around it, whose marker is its first failure's."""

    def evaluate(shape: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        values: list[Any] = []
        failures: list[Any] = []
        for member in shape["members"]:
            if isinstance(member, dict):
                value, inner = evaluate(member)
                if len(inner) > member["tolerate"]:
                    value = inner[0]
            else:
                value = results[member]
            values.append(value)
            if is_error_marker(value):
                failures.append(value)
        return values, failures

    shape = stage.get("shape")
    if shape is None:
        return results, [r for r in results if is_error_marker(r)]
    return evaluate(shape)


def tolerates(stage: dict[str, Any]) -> bool:
    """True if a group of the stage (itself or a nested one) tolerates failed members: a failed
    step then joins with its error marker instead of failing the workflow at once."""

    def any_tolerance(shape: dict[str, Any]) -> bool:
        return shape["tolerate"] > 0 or any(
            isinstance(m, dict) and any_tolerance(m) for m in shape["members"]
        )

    shape = stage.get("shape")
    return stage.get("tolerate", 0) > 0 or (shape is not None and any_tolerance(shape))


def _step(part: Step) -> dict[str, Any]:
    job = part.job if isinstance(part, NoResult) else part
    task = job.task
    run_after: Any = task.run_after
    if isinstance(run_after, timedelta):
        run_after = run_after.total_seconds()
    elif isinstance(run_after, datetime):
        run_after = run_after.isoformat()
    return {
        "task": task.name,
        "args": list(job.args),
        "kwargs": dict(job.kwargs),
        "queue": task.queue_name,
        "priority": task.priority,
        "run_after": run_after,
        "overrides": dict(job.overrides),
        "result": not isinstance(part, NoResult),
        "awaits_result": job.awaits_result,
    }


def prepared_step(  # noqa: PLR0917 - the step and its place
    step: dict[str, Any], workflow_id: str, stage: int, member: int, result: Any, has_result: bool
) -> PreparedJob:
    """The job of one planned step, with its derived id and the predecessor's result (if it
    takes one). Raises :class:`InvalidJobError` if its task is not registered here."""
    from lambda_jobs import registry

    task = registry.get(step["task"])
    if task is None:
        raise InvalidJobError(
            f"workflow {workflow_id}: step task {step['task']!r} is not registered in this "
            "process (list its module in LAMBDA_JOBS_TASKS)"
        )
    run_after: Any = step.get("run_after")
    if isinstance(run_after, (int, float)):
        run_after = timedelta(seconds=run_after)
    elif isinstance(run_after, str):
        run_after = datetime.fromisoformat(run_after)
    task = task.using(queue_name=step["queue"], priority=step["priority"], run_after=run_after)
    args = list(step["args"])
    if step["result"] and has_result:
        args.insert(0, result)
    return PreparedJob(
        task=task,
        args=tuple(args),
        kwargs=dict(step["kwargs"]),
        id=step_job_id(workflow_id, stage, member),
        overrides=dict(step["overrides"]),
    )
