""":class:`Workflow`, the receipt and view of a workflow, and :func:`get_workflow`."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_jobs.errors import JobStateError, UnknownJobError

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig


@dataclass(slots=True)
class Step:
    """One step: its position (stage, member), job id, task, status, attempts and last error.
    A step of a stage not started yet has status ``pending``.

    A chain inside a group (a *branch*) is listed as one step of ``kind`` ``"chain"`` (task
    ``chain``, its job id the branch's own workflow id, its status the branch's: running,
    succeeded, failed, cancelled or pending), followed by its steps, whose ``branch`` is the
    branch's position ``"<stage>.<member>"`` (nested branches' joined by ``/``) and whose
    stage and member count inside the branch."""

    stage: int
    member: int
    job_id: str
    task: str
    status: str
    attempts: int = 0
    error: str | None = None
    branch: str | None = None
    kind: str = "job"


@dataclass(slots=True)
class Workflow:
    """A workflow: ``status`` is running, succeeded, failed or cancelled; ``steps`` each step;
    ``result`` the last stage's outcome once succeeded; ``failed_step`` / ``error`` name the step
    that ended a failed workflow."""

    id: str
    config: Any = field(default=None, repr=False, compare=False)
    status: str = "running"
    steps: list[Step] = field(default_factory=list)
    result: Any = None
    failed_step: str | None = None
    error: str | None = None

    def refresh(self) -> Workflow:
        """Re-read the workflow and its steps from the job store, in place; returns it.
        (Inline: the workflow already ran, there is nothing to re-read.)"""
        if self.config is not None and self.config.is_inline:
            return self
        fresh = _read(self.id, self.config)
        for name in ("status", "steps", "result", "failed_step", "error"):
            setattr(self, name, getattr(fresh, name))
        return self

    def cancel(self) -> Workflow:
        """Cancel: no later stage starts, steps not yet started are cancelled (in its branches
        too, which end ``cancelled``), a running step finishes. A finished workflow, or a
        branch (cancel the workflow around it), raises :class:`JobStateError`."""
        from lambda_jobs import cancel_job
        from lambda_jobs.jobstore import workflow_state
        from lambda_jobs.jobstore.records import _client, store_of

        config = self._config()
        store = store_of(config)
        client = _client(config)
        item = workflow_state.load(client, store.table, self.id)
        if item is not None and "parent" in item:
            outer = json.loads(str(item["parent"]))["id"]
            raise JobStateError(
                f"workflow {self.id} is a chain inside a group of workflow {outer}: cancel "
                f"{outer} (a branch cancelled on its own would never join its group)"
            )
        if not workflow_state.finish(client, store.table, self.id, workflow_state.CANCELLED):
            raise JobStateError(f"workflow {self.id} has already ended ({self.refresh().status})")
        for step in _read(self.id, config).steps:
            if step.kind == "chain" and step.status == workflow_state.RUNNING:
                # Its running steps finish; their bookkeeping finds it ended.
                workflow_state.finish(client, store.table, step.job_id, workflow_state.CANCELLED)
            elif step.status in ("enqueued", "retrying"):
                # It may have started meanwhile (it finishes) or never been sent.
                with contextlib.suppress(JobStateError, UnknownJobError):
                    cancel_job(step.job_id)
        return self.refresh()

    def _config(self) -> ClientConfig:
        if self.config is None:
            from lambda_jobs import config as config_module

            self.config = config_module.load()
        return self.config  # type: ignore[no-any-return]


def get_workflow(workflow_id: str, config: ClientConfig | None = None) -> Workflow:
    """The workflow ``workflow_id`` from the job store; :class:`UnknownJobError` if absent."""
    return _read(workflow_id, config)


def _read(workflow_id: str, config: ClientConfig | None) -> Workflow:
    from lambda_jobs.jobstore import workflow_state
    from lambda_jobs.jobstore.records import _client, store_of

    if config is None:
        from lambda_jobs import config as config_module

        config = config_module.load()
    store = store_of(config)
    client = _client(config)
    item = workflow_state.load(client, store.table, workflow_id)
    if item is None:
        raise UnknownJobError(f"no workflow {workflow_id!r} in the job store")
    plan = [
        workflow_state.stage_steps(client, store.table, workflow_id, stage, int(spec["chunks"]))
        for stage, spec in enumerate(item["plan"])
    ]
    steps: list[Step] = []
    _collect(client, store.table, workflow_id, plan, None, steps)
    result = json.loads(item["result"]) if "result" in item else None
    return Workflow(
        workflow_id,
        config,
        status=str(item["status"]),
        steps=steps,
        result=result,
        failed_step=item.get("failed_step"),
        error=item.get("error"),
    )


def _collect(  # noqa: PLR0917 - the workflow, its plan and where its steps go
    client: Any,
    table: str,
    workflow_id: str,
    plan: list[list[dict[str, Any]]],
    branch: str | None,
    steps: list[Step],
) -> None:
    """Append the steps of ``plan`` (each stage's planned steps) of ``workflow_id`` to
    ``steps``, a branch's own steps right after it (``branch``: this workflow's position)."""
    from lambda_jobs.jobstore import schema, workflow_state
    from lambda_jobs.workflows.canvas import BRANCH_TASK, is_branch, step_job_id

    for stage, specs in enumerate(plan):
        ids = [step_job_id(workflow_id, stage, m) for m in range(len(specs))]
        jobs = _job_items(
            client, table, [i for i, s in zip(ids, specs, strict=True) if not is_branch(s)]
        )
        for member, (job_id, step) in enumerate(zip(ids, specs, strict=True)):
            if is_branch(step):
                child = workflow_state.load(client, table, job_id)
                status = "pending" if child is None else str(child["status"])
                error = (
                    child.get("error") if child is not None and status == schema.FAILED else None
                )
                steps.append(
                    Step(stage, member, job_id, BRANCH_TASK, status, 0, error, branch, "chain")
                )
                position = f"{stage}.{member}"
                inner = position if branch is None else f"{branch}/{position}"
                branch_plan = [s["steps"] for s in step["branch"]]
                _collect(client, table, job_id, branch_plan, inner, steps)
                continue
            job = jobs.get(job_id)
            if job is None:
                steps.append(Step(stage, member, job_id, step["task"], "pending", branch=branch))
                continue
            error = job.get("error_type")
            if error and job.get("status") == schema.FAILED:
                error = f"{error}: {job.get('error_message', '')}"
            elif job.get("status") != schema.FAILED:
                error = None
            steps.append(
                Step(
                    stage,
                    member,
                    job_id,
                    step["task"],
                    str(job.get("status")),
                    int(job.get("attempt", 0)),
                    error,
                    branch,
                )
            )


def _job_items(client: Any, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    from lambda_jobs.jobstore import schema, workflow_state

    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), workflow_state.BATCH_GET_MAX):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"pk": {"S": i}} for i in ids[start : start + 100]],
                "ConsistentRead": True,
            }
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                decoded = schema.decode_item(raw)
                found[str(decoded["pk"])] = decoded
            request = response.get("UnprocessedKeys") or {}
    return found
