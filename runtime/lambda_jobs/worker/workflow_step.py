"""What the worker does after a workflow step ends (docs/guide/workflows.md).

Called by :mod:`lambda_jobs.worker.lifecycle` only for an envelope with a ``workflow`` field, so
plain jobs never import this module. Never raises: each function returns True when the step's
bookkeeping is done, False when a DynamoDB or enqueue error stopped it (the error is added to the
job's ``store_error``, so its log line says it). On False the lifecycle has the step delivered
again (:meth:`lambda_jobs.worker.lifecycle.Policy.unfinished`): the redelivery's claim says
``finished``, so the task does not run again and :func:`resumed` finishes the bookkeeping, which
is idempotent (derived successor ids, conditional joins).

- :func:`succeeded`: record the member once (:func:`~lambda_jobs.jobstore.workflow_state.
  record_member`); the delivery that completes the stage starts the next one with the stage's
  results, or ends the workflow ``succeeded`` with them after the last stage.
- :func:`resumed`: a duplicate delivery of a step that already ended (the claim said
  ``finished``) does the same from the job's item (its stored result, or its error if it was
  dead-lettered), so a crash or an error between the job's end and its stage's bookkeeping is
  finished by the redelivery.
- :func:`failed`: a step dead-lettered (retries used up, or refused) ends the workflow
  ``failed``, naming the step and its error; no later stage starts.

A *branch* (a chain inside a group) is a child workflow whose item names its ``parent``: when it
ends, its end is joined as its member of the group around it (:func:`_carry_up`), and it starts
no later stage once a workflow around it has ended (cancelled, or failed by another member).
Only the outermost workflow counts in the metrics and runs ``on_failure``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambda_jobs.worker.triage import Arrival


class BookkeepingUnfinished(Exception):
    """Raised out of the Lamb handler when a step's bookkeeping did not finish, so that Lambda's
    async retry delivers the step again (Goat lists the record instead)."""

    def __init__(self, job_id: str | None, why: str | None) -> None:
        super().__init__(
            f"workflow step {job_id} ended but its workflow bookkeeping did not finish ({why}); "
            "raised so that Lambda delivers the step again to finish it (the task does not run "
            "again)"
        )


def succeeded(job: Arrival, value: Any) -> bool:
    """The step succeeded with ``value``: join it; True when that is done."""
    from lambda_jobs.jobstore.claims import encode_result

    text, why = encode_result(value)
    return _guarded(job, lambda: _advance(job, text, why))


def resumed(job: Arrival) -> bool:
    """The step's claim said ``finished``: do its bookkeeping again from its job item (a no-op
    where it was done); True when that is done."""

    def resume() -> None:
        store, envelope = job.store, job.envelope
        assert store is not None and envelope is not None
        from lambda_jobs.jobstore.schema import FAILED, SUCCEEDED, decode_item, s

        item = store.client.get_item(
            TableName=store.table, Key={"pk": s(envelope.id)}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return
        decoded = decode_item(item)
        status = decoded.get("status")
        if status == SUCCEEDED:
            if "result" in decoded:
                _advance(job, str(decoded["result"]), None)
            else:  # its return value was not stored: the workflow fails saying why
                _advance(job, None, str(decoded.get("error_message", "")))
        elif status == FAILED:  # dead-lettered
            _failed_work(
                job, str(decoded.get("error_type", "")), str(decoded.get("error_message", ""))
            )

    return _guarded(job, resume)


def failed(job: Arrival, error_type: str, error_message: str) -> bool:
    """The step is dead-lettered: fail the workflow (or join an error marker in a group that
    tolerates failures); True when that is done."""
    return _guarded(job, lambda: _failed_work(job, error_type, error_message))


def _failed_work(job: Arrival, error_type: str, error_message: str) -> None:
    """:func:`failed`'s work; raises what DynamoDB or the enqueue raised."""
    store, envelope = job.store, job.envelope
    assert store is not None and envelope is not None and envelope.workflow is not None
    from lambda_jobs.jobstore import workflow_state

    workflow_id = envelope.workflow["id"]
    item = workflow_state.load(store.client, store.table, workflow_id)
    if item is not None and envelope.workflow["stage"] >= len(item["plan"]):
        return  # the on_failure step itself failed: its dead-letter entry says so
    from lambda_jobs.workflows.canvas import error_marker, tolerates

    if item is not None and tolerates(item["plan"][envelope.workflow["stage"]]):
        # A group that tolerates failures: the member joins with an error marker; the
        # completer counts the markers against the tolerance.
        marker = error_marker(envelope.id, error_type, error_message[:1000])
        _advance(job, json.dumps(marker, separators=(",", ":")), None)
        return
    _fail(job, workflow_id, item, failed_step=envelope.id, error=f"{error_type}: {error_message}")


def _advance(job: Arrival, result_json: str | None, why: str | None) -> None:
    """Join the step's member (``result_json``; None: its result was not stored, ``why``)."""
    envelope = job.envelope
    assert envelope is not None and envelope.workflow is not None
    marker = envelope.workflow
    _join(job, marker["id"], marker["stage"], marker["member"], result_json, why)


def _join(  # noqa: PLR0917 - the member's place and what it ended with
    job: Arrival,
    workflow_id: str,
    stage: int,
    member: int,
    result_json: str | None,
    why: str | None = None,
) -> None:
    """Record ``member`` of ``stage`` of ``workflow_id`` once; the call that completes the stage
    starts the next one, or ends the workflow (a branch's end then joins the group around it)."""
    from lambda_jobs.jobstore import workflow_state

    store, envelope = job.store, job.envelope
    assert store is not None and envelope is not None
    client, table = store.client, store.table
    item = workflow_state.load(client, table, workflow_id)
    if item is None:
        return  # expired
    if item["status"] != workflow_state.RUNNING:
        # Ended (failed, cancelled, or a branch that succeeded): no later stage starts; a
        # branch's end is carried to its group again (idempotent), in case a crash stopped it.
        _carry_up(job, workflow_id, item)
        return
    if int(item.get("started", 0)) > stage:
        return  # the next stage was sent: this member's stage joined long ago
    plan = item["plan"]
    if result_json is None:
        error = f"lambda_jobs.ResultNotStored: {why}"
        _fail(job, workflow_id, item, failed_step=envelope.id, error=error)
        return
    members = int(plan[stage]["members"])
    if not workflow_state.record_member(
        client, table, workflow_id, stage, member, members, result_json, store.ttl_seconds
    ):
        return
    results = workflow_state.results(client, table, workflow_id, stage, members)
    from lambda_jobs.workflows.canvas import ERROR_MARKER, outcome_of

    values, failures = outcome_of(results, plan[stage])
    if len(failures) > plan[stage].get("tolerate", 0):
        first = failures[0][ERROR_MARKER]
        _fail(
            job,
            workflow_id,
            item,
            failed_step=first["job_id"],
            error=f"{first['type']}: {first['message']} ({len(failures)} of {len(values)} "
            f"members failed, {plan[stage].get('tolerate', 0)} tolerated)",
        )
        return
    outcome = values if plan[stage]["group"] else values[0]
    branch = "parent" in item
    if stage + 1 == len(plan):
        ended = workflow_state.finish(
            client,
            table,
            workflow_id,
            workflow_state.SUCCEEDED,
            result_json=json.dumps(outcome, separators=(",", ":")),
        )
        if branch:
            _carry_up(job, workflow_id, None)
        elif ended:
            _count_ended(job, workflow_state.SUCCEEDED)
        return
    if branch and not _ancestors_running(client, table, item):
        # The workflow around this branch ended (cancelled, or failed by another member).
        workflow_state.finish(client, table, workflow_id, workflow_state.CANCELLED)
        return
    from lambda_jobs import config as config_module
    from lambda_jobs.errors import InvalidJobError
    from lambda_jobs.workflows.start import start_stage

    config = config_module.resolve(str(item["config"]))
    try:
        steps = workflow_state.stage_steps(
            client, table, workflow_id, stage + 1, int(plan[stage + 1]["chunks"])
        )
        start_stage(
            config,
            workflow_id,
            steps,
            stage + 1,
            outcome,
            has_result=True,
            config_text=str(item["config"]),
        )
    except InvalidJobError as exc:  # e.g. the results do not fit the next step's envelope
        _fail(job, workflow_id, item, failed_step=envelope.id, error=f"InvalidJobError: {exc}")
        return
    workflow_state.mark_started(client, table, workflow_id, stage + 1)


def _ancestors_running(client: Any, table: str, item: dict[str, Any]) -> bool:
    """True if every workflow around the branch ``item`` is still running."""
    from lambda_jobs.jobstore import workflow_state

    while "parent" in item:
        outer = workflow_state.load(client, table, json.loads(str(item["parent"]))["id"])
        if outer is None or outer["status"] != workflow_state.RUNNING:
            return False
        item = outer
    return True


def _carry_up(job: Arrival, workflow_id: str, item: dict[str, Any] | None) -> None:
    """If ``workflow_id`` is a branch that ended (``item``: as loaded, None to load it), record
    its end in the group around it: succeeded joins its result as its member's; failed joins an
    error marker where that group tolerates failures, else fails the workflow around it, naming
    the failed step. Idempotent (the join counts a member once, ``finish`` is conditional), so
    every delivery that finds the branch ended may do it: a crash between the branch's end and
    this is finished by the next one."""
    from lambda_jobs.jobstore import workflow_state

    store = job.store
    assert store is not None
    if item is None:
        item = workflow_state.load(store.client, store.table, workflow_id)
    if item is None or "parent" not in item:
        return
    parent = json.loads(str(item["parent"]))
    if item["status"] == workflow_state.SUCCEEDED:
        _join(job, parent["id"], parent["stage"], parent["member"], str(item["result"]))
        return
    if item["status"] != workflow_state.FAILED:
        return  # cancelled: nothing to carry
    outer = workflow_state.load(store.client, store.table, parent["id"])
    if outer is None:
        return
    if outer["status"] != workflow_state.RUNNING:
        _carry_up(job, parent["id"], outer)
        return
    from lambda_jobs.workflows.canvas import error_marker, tolerates

    failed_step, error = str(item.get("failed_step", "")), str(item.get("error", ""))
    if tolerates(outer["plan"][parent["stage"]]):
        error_type, _, message = error.partition(": ")
        marker = error_marker(failed_step, error_type, message[:1000])
        result_json = json.dumps(marker, separators=(",", ":"))
        _join(job, parent["id"], parent["stage"], parent["member"], result_json)
        return
    _fail(job, parent["id"], outer, failed_step=failed_step, error=error)


def _fail(
    job: Arrival,
    workflow_id: str,
    item: dict[str, Any] | None,
    *,
    failed_step: str,
    error: str,
) -> None:
    """End ``workflow_id`` ``failed`` (``item``: the workflow as loaded). A branch's failure is
    then carried to the group around it; the outermost workflow starts its ``on_failure`` step
    (derived id: every delivery that sees the failure may send it, the claim runs it once)."""
    from lambda_jobs.jobstore import workflow_state

    store = job.store
    assert store is not None
    ended = workflow_state.finish(
        store.client,
        store.table,
        workflow_id,
        workflow_state.FAILED,
        failed_step=failed_step,
        error=error,
    )
    if item is not None and "parent" in item:
        _carry_up(job, workflow_id, None)
        return
    if ended:
        _count_ended(job, workflow_state.FAILED)
    if item is None or "on_failure" not in item:
        return
    if not ended and item["status"] != workflow_state.FAILED:
        return  # it had ended otherwise (cancelled, succeeded): no error step
    from lambda_jobs import config as config_module
    from lambda_jobs.workflows.start import start_stage

    config = config_module.resolve(str(item["config"]))
    step = json.loads(str(item["on_failure"]))
    start_stage(
        config,
        workflow_id,
        [step],
        len(item["plan"]),
        workflow_id,
        has_result=True,
        config_text=str(item["config"]),
    )


def _count_ended(job: Arrival, status: str) -> None:
    """Count the workflow this step ended (``WorkflowsSucceeded`` / ``WorkflowsFailed``): once,
    by the delivery whose conditional write ended it, in the step's backend and queue."""
    from lambda_jobs.worker import metrics
    from lambda_jobs.worker.joblog import BACKEND_ENV

    envelope = job.envelope
    assert envelope is not None
    backend = os.environ.get(BACKEND_ENV) or None
    metrics.count(f"workflow_{status}", backend, envelope.queue, envelope.task, None, None)


def _guarded(job: Arrival, work: Any) -> bool:
    """Run ``work``; True if it returned, False (the error noted) if it raised."""
    if job.store is None or job.envelope is None or job.envelope.workflow is None:
        # Nothing a redelivery could do better: said in the log line, never retried.
        _note(job, "workflow step on a function without LAMBDA_JOBS_JOB_TABLE: not advanced")
        return True
    try:
        work()
    except Exception as exc:
        _note(
            job,
            f"workflow {job.envelope.workflow['id']}: {type(exc).__name__}: "
            f"{str(exc)[:300]} (the step's next delivery finishes it)",
        )
        return False
    return True


def _note(job: Arrival, text: str) -> None:
    job.store_error = f"{job.store_error}; {text}" if job.store_error else text
