"""``lambda-jobs workflows show ID``: a workflow's status and each step's, from the job store.

Needs a backend deployed with ``job_store=JobStore(...)``. Reads the workflow item and its steps'
job items (``dynamodb:GetItem`` / ``BatchGetItem``, which ``grant_enqueue`` gives). Shows the
stages in order, each step's job id, task, status, attempts and error, a chain inside a group as
a ``chain`` row with its steps indented under it; ``--json`` for scripts.
Arguments are never shown; the final result is (as ``jobs show`` shows a return value).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import shared

if TYPE_CHECKING:
    from lambda_jobs.workflows.handle import Workflow


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "workflows",
        help="a workflow's status and its steps' (needs a job store)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    actions = parser.add_subparsers(dest="workflows_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="one workflow: its stages and each step's status")
    shared.add_config_argument(show)
    show.add_argument("id", metavar="ID", help="the workflow id")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(run=run_show)


def as_dict(wf: Workflow) -> dict[str, Any]:
    """What ``workflows show --json`` prints."""
    return {
        "id": wf.id,
        "status": wf.status,
        "result": wf.result,
        "failed_step": wf.failed_step,
        "error": wf.error,
        "steps": [
            {
                "stage": s.stage,
                "member": s.member,
                "job_id": s.job_id,
                "task": s.task,
                "status": s.status,
                "attempts": s.attempts,
                "error": s.error,
                "branch": s.branch,
                "kind": s.kind,
            }
            for s in wf.steps
        ],
    }


@shared.command("workflows show")
def run_show(args: argparse.Namespace) -> int:
    from lambda_jobs.workflows.handle import get_workflow

    from lambda_jobs_tools.ops import tables

    workflow_id = shared.job_id_argument(args.id)
    wf = get_workflow(workflow_id, shared.load_config(args.config))
    data = as_dict(wf)
    if args.json:
        tables.print_json(data)
        return shared.EXIT_OK
    tables.print_table(
        f"workflow {wf.id}: {wf.status}" + (f" ({wf.error})" if wf.error else ""),
        ["branch", "stage", "member", "task", "status", "attempts", "job id", "error"],
        [
            [
                s.branch or "-",
                str(s.stage),
                str(s.member),
                "  " * _depth(s.branch) + s.task,
                s.status,
                str(s.attempts),
                s.job_id,
                s.error or "-",
            ]
            for s in wf.steps
        ],
    )
    return shared.EXIT_OK


def _depth(branch: str | None) -> int:
    """How deep a step sits in chains inside groups (0: the workflow's own steps)."""
    return 0 if branch is None else branch.count("/") + 1
