"""``LAMBDA_JOBS_CONFIG=inline``: run a workflow's stages in this process, one after another.

Each step runs as :func:`lambda_jobs.enqueue.inline.run_inline` runs a job (retries at once, no
delays); a failed step ends the workflow (``failed``) and later stages never run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_jobs.workflows.canvas import error_marker, outcome_of, prepared_step

if TYPE_CHECKING:
    from lambda_jobs.workflows.handle import Workflow


def run_workflow_inline(
    workflow_id: str, plan: list[dict[str, Any]], on_failure: dict[str, Any] | None = None
) -> Workflow:
    from lambda_jobs import config as config_module
    from lambda_jobs.backends import enqueue
    from lambda_jobs.workflows.handle import Step, Workflow

    config = config_module.INLINE
    steps: list[Step] = []
    result: Any = None
    has_result = False
    status = "succeeded"
    failed: Step | None = None
    for stage, spec in enumerate(plan):
        results: list[Any] = []
        for member, step in enumerate(spec["steps"]):
            (job,) = enqueue(
                [prepared_step(step, workflow_id, stage, member, result, has_result)],
                config,
                single=True,
            )
            steps.append(
                Step(stage, member, job.id, step["task"], str(job.status), job.attempts, job.error)
            )
            if job.status == "succeeded":
                results.append(job.return_value)
                continue
            error_type, _, message = (job.error or "Error: ").partition(": ")
            results.append(error_marker(job.id, error_type, message))
        values, failures = outcome_of(results, spec)
        if len(failures) > spec.get("tolerate", 0):
            failed_id = failures[0]["lambda_jobs.error"]["job_id"]
            failed = next(s for s in steps if s.job_id == failed_id)
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
        error=failed.error if failed else None,
    )
