"""``LAMBDA_JOBS_CONFIG=inline``: run a workflow's stages in this process, one after another.

Each step runs as :func:`lambda_jobs.enqueue.inline.run_inline` runs a job (retries at once, no
delays); a failed step ends the workflow (``failed``) and later stages never run. A chain inside
a group (a branch) runs here as its own workflow, with the result its group receives; its end is
its member's outcome (its last stage's, or an error marker naming its failed step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_jobs.workflows.canvas import (
    BRANCH_TASK,
    error_marker,
    is_branch,
    outcome_of,
    prepared_step,
    step_job_id,
)

if TYPE_CHECKING:
    from lambda_jobs.workflows.handle import Step, Workflow


def run_workflow_inline(  # noqa: PLR0917 - a branch also gets its input and position
    workflow_id: str,
    plan: list[dict[str, Any]],
    on_failure: dict[str, Any] | None = None,
    result: Any = None,
    has_result: bool = False,
    branch: str | None = None,
) -> Workflow:
    """Run ``plan``; ``result`` / ``has_result``: what its first stage receives (a branch's
    group input); ``branch``: a branch's position, given to its steps."""
    from lambda_jobs import config as config_module
    from lambda_jobs.backends import enqueue
    from lambda_jobs.workflows.handle import Step, Workflow

    config = config_module.INLINE
    steps: list[Step] = []
    status = "succeeded"
    failed: Step | None = None
    error: str | None = None
    for stage, spec in enumerate(plan):
        results: list[Any] = []
        for member, step in enumerate(spec["steps"]):
            if is_branch(step):
                results.append(
                    _run_branch(workflow_id, stage, member, step, result, has_result, branch, steps)
                )
                continue
            (job,) = enqueue(
                [prepared_step(step, workflow_id, stage, member, result, has_result)],
                config,
                single=True,
            )
            steps.append(
                Step(
                    stage,
                    member,
                    job.id,
                    step["task"],
                    str(job.status),
                    job.attempts,
                    job.error,
                    branch,
                )
            )
            if job.status == "succeeded":
                results.append(job.return_value)
                continue
            error_type, _, message = (job.error or "Error: ").partition(": ")
            results.append(error_marker(job.id, error_type, message))
        values, failures = outcome_of(results, spec)
        if len(failures) > spec.get("tolerate", 0):
            first = failures[0]["lambda_jobs.error"]
            failed = next(s for s in steps if s.job_id == first["job_id"])
            error = failed.error or f"{first['type']}: {first['message']}"
            status = "failed"
            if on_failure is not None:
                (job,) = enqueue(
                    [prepared_step(on_failure, workflow_id, len(plan), 0, workflow_id, True)],
                    config,
                    single=True,
                )
                steps.append(
                    Step(
                        len(plan),
                        0,
                        job.id,
                        on_failure["task"],
                        str(job.status),
                        job.attempts,
                        job.error,
                    )
                )
            break
        result = values if spec["group"] else values[0]
        has_result = True
    return Workflow(
        workflow_id,
        config,
        status=status,
        steps=steps,
        result=result if status == "succeeded" else None,
        failed_step=failed.job_id if failed else None,
        error=error,
    )


def _run_branch(  # noqa: PLR0917 - the branch, its place, its input and the steps list
    workflow_id: str,
    stage: int,
    member: int,
    step: dict[str, Any],
    result: Any,
    has_result: bool,
    branch: str | None,
    steps: list[Step],
) -> Any:
    """Run a branch; append it and its steps to ``steps``; return its member's outcome."""
    from lambda_jobs.workflows.handle import Step

    position = f"{stage}.{member}" if branch is None else f"{branch}/{stage}.{member}"
    branch_id = step_job_id(workflow_id, stage, member)
    child = run_workflow_inline(branch_id, step["branch"], None, result, has_result, position)
    steps.append(
        Step(stage, member, branch_id, BRANCH_TASK, child.status, 0, child.error, branch, "chain")
    )
    steps.extend(child.steps)
    if child.status == "succeeded":
        return child.result
    error_type, _, message = (child.error or "Error: ").partition(": ")
    return error_marker(str(child.failed_step), error_type, message)
