"""Start a workflow (app side) and start one of its stages (app side for the first, the worker
that completed the stage before it for the rest).

A stage's jobs go through the one enqueue path (:func:`lambda_jobs.backends.enqueue`)
with ids derived from the workflow id and position (:func:`~lambda_jobs.workflows.canvas.
step_job_id`): the job store's conditional ``PutItem`` keeps their item once, and if two
deliveries both start the same successor, the worker's claim runs it once and skips the copy.

A member that is a chain (a *branch*) is started as a child workflow: its item
(``workflow_state.create`` with ``parent``: the id, stage and member its end joins as) under the
id its member would have as a job, then its first stage with the result its group receives. The
create is conditional: a second start of the stage finds the child and only sends its first
stage again (derived ids again), so however often a stage is started, each branch exists once.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING, Any

from lambda_jobs.envelope import WORKFLOW_VERSION
from lambda_jobs.errors import ConfigurationError, InvalidJobError
from lambda_jobs.workflows.canvas import is_branch, prepared_step, step_job_id

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig
    from lambda_jobs.workflows.handle import Workflow


def enqueue_workflow(
    plan: list[dict[str, Any]], on_failure: dict[str, Any] | None = None
) -> Workflow:
    """Run ``plan`` inline, or record it in the job store and send its first stage."""
    from lambda_jobs import config as config_module

    config = config_module.load()
    workflow_id = str(uuid.uuid4())
    if config.is_inline:
        from lambda_jobs.workflows.inline import run_workflow_inline

        return run_workflow_inline(workflow_id, plan, on_failure)
    if config.job_store is None:
        raise ConfigurationError(
            f"this {config.backend} backend has no job store, and a workflow keeps its state "
            "there: deploy it with job_store=JobStore(...) to enqueue chains and groups"
        )
    from lambda_jobs.jobstore import workflow_state
    from lambda_jobs.jobstore.records import _client  # the one DynamoDB client of the app side

    raw = os.environ.get(config_module.ENV_VAR, "").strip()
    client = _client(config)
    try:
        workflow_state.create(
            client,
            config.job_store.table,
            workflow_id,
            plan,
            raw,
            config.job_store.ttl_seconds,
            on_failure=on_failure,
        )
    except ValueError as exc:
        raise InvalidJobError(str(exc)) from None
    start_stage(config, workflow_id, plan[0]["steps"], 0, None, has_result=False, config_text=raw)
    from lambda_jobs.workflows.handle import Workflow

    return Workflow(workflow_id, config)


def start_stage(
    config: ClientConfig,
    workflow_id: str,
    steps: list[dict[str, Any]],
    stage: int,
    result: Any,
    *,
    has_result: bool,
    config_text: str,
) -> None:
    """Enqueue ``steps``, the steps of ``stage`` (derived ids: starting it twice sends copies the
    claim skips), and start its branches (``config_text``: the ``LAMBDA_JOBS_CONFIG`` value a
    branch keeps, as its workflow does). A result too large for a step's envelope raises
    ``InvalidJobError`` naming sizes."""
    from lambda_jobs.backends import enqueue

    jobs = []
    branches = []
    for member, step in enumerate(steps):
        if is_branch(step):
            branches.append((member, step))
            continue
        job = prepared_step(step, workflow_id, stage, member, result, has_result)
        marker = {"v": WORKFLOW_VERSION, "id": workflow_id, "stage": stage, "member": member}
        jobs.append(_with_workflow(job, marker))
    if jobs:
        enqueue(jobs, config)
    for member, step in branches:
        _start_branch(
            config, workflow_id, stage, member, step["branch"], result, has_result, config_text
        )


def _start_branch(  # noqa: PLR0917 - the branch, its place and what it receives
    config: ClientConfig,
    workflow_id: str,
    stage: int,
    member: int,
    plan: list[dict[str, Any]],
    result: Any,
    has_result: bool,
    config_text: str,
) -> None:
    """Create the branch's child workflow once, then start its first stage."""
    from lambda_jobs.jobstore import workflow_state
    from lambda_jobs.jobstore.records import _client, store_of

    store = store_of(config)
    client = _client(config)
    branch_id = step_job_id(workflow_id, stage, member)
    # A second start finds it: send its first stage again (derived ids, the claim skips copies).
    with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
        workflow_state.create(
            client,
            store.table,
            branch_id,
            plan,
            config_text,
            store.ttl_seconds,
            parent={"id": workflow_id, "stage": stage, "member": member},
        )
    start_stage(
        config,
        branch_id,
        plan[0]["steps"],
        0,
        result,
        has_result=has_result,
        config_text=config_text,
    )


def _with_workflow(job: Any, marker: dict[str, Any]) -> Any:
    from dataclasses import replace

    return replace(job, workflow=marker)
