"""``lambda-jobs jobs``: one job from the job store, the latest failures of a task, cancel.

Needs a backend deployed with ``job_store=JobStore(...)`` (its client configuration then carries
``job_store``). ``show`` and ``cancel`` read and update the job's item (``dynamodb:GetItem`` /
``UpdateItem``, which ``grant_enqueue`` gives); ``failures`` queries the sparse ``failures``
index (``dynamodb:Query``, which ``grant_read_jobs`` gives) and shows only what the index holds:
id, task, queue, status, attempts, finish time and error (``jobs show ID`` has the rest: times,
traceback, workers). Return values and errors are shown; arguments are never stored, so never
shown.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import shared

if TYPE_CHECKING:
    from lambda_jobs.job import Job

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "jobs",
        help="a job's status and result, a task's latest failures, cancel (needs a job store)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    actions = parser.add_subparsers(dest="jobs_action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="one job: status, attempts, times, result, last error")
    shared.add_config_argument(show)
    show.add_argument("id", metavar="ID", help="the job id")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(run=run_show)

    failures = actions.add_parser("failures", help="the latest failed jobs of a task, newest first")
    shared.add_config_argument(failures)
    failures.add_argument("task", metavar="TASK", help="the task name (module.function)")
    failures.add_argument(
        "--limit",
        metavar="N",
        default=str(DEFAULT_LIMIT),
        help=f"how many (1..{MAX_LIMIT}, default %(default)s)",
    )
    failures.add_argument("--json", action="store_true", help="print JSON instead of a table")
    failures.set_defaults(run=run_failures)

    cancel = actions.add_parser("cancel", help="cancel a job that has not started")
    shared.add_config_argument(cancel)
    cancel.add_argument("id", metavar="ID", help="the job id")
    cancel.set_defaults(run=run_cancel)


def as_dict(job: Job) -> dict[str, Any]:
    """The fields of a job that ``--json`` prints."""
    return {
        "id": job.id,
        "task": job.task_name,
        "queue": job.queue_name,
        "status": str(job.status),
        "attempts": job.attempts,
        "enqueued_at": job.enqueued_at,
        "run_after": job.run_after,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "return_value": job.return_value,
        "error_type": job.error_type,
        "error_message": job.error_message,
        "error_traceback": job.error_traceback,
        "unique_key": job.unique_key,
        "worker_ids": job.worker_ids,
    }


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value)
    return str(value)


@shared.command("jobs show")
def run_show(args: argparse.Namespace) -> int:
    from lambda_jobs.jobstore.records import get_job

    from lambda_jobs_tools.ops import tables

    job_id = shared.job_id_argument(args.id)
    job = get_job(job_id, shared.load_config(args.config))
    data = as_dict(job)
    if args.json:
        tables.print_json(data)
    else:
        tables.print_fields(f"job {job.id}", [(k, _text(v)) for k, v in data.items() if k != "id"])
    return shared.EXIT_OK


@shared.command("jobs failures")
def run_failures(args: argparse.Namespace) -> int:
    from lambda_jobs.jobstore.records import failures

    from lambda_jobs_tools.ops import tables

    task = args.task
    if not task or any(c.isspace() for c in task):
        raise shared.OpsError(
            f"TASK {task!r} is not a task name: expected its dotted name (module.function)"
        )
    try:
        limit = int(args.limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise shared.OpsError(f"--limit must be a whole number 1..{MAX_LIMIT}, got {args.limit!r}")
    found = [
        failure_dict(item) for item in failures(task, shared.load_config(args.config), limit=limit)
    ]
    if args.json:
        tables.print_json(found)
        return shared.EXIT_OK
    if not found:
        tables.message(f"no failed jobs of {task} in the job store")
        return shared.EXIT_OK
    tables.print_table(
        f"latest failures of {task}",
        ["finished", "job id", "attempts", "error"],
        [
            [
                _text(job["finished_at"]),
                job["id"],
                _text(job["attempts"]),
                _text(": ".join(x for x in (job["error_type"], job["error_message"]) if x) or None),
            ]
            for job in found
        ],
    )
    return shared.EXIT_OK


def failure_dict(item: dict[str, Any]) -> dict[str, Any]:
    """What ``jobs failures --json`` prints of one index entry: only what the index holds."""
    return {
        "id": item.get("pk"),
        "task": item.get("task"),
        "queue": item.get("queue"),
        "status": item.get("status"),
        "attempts": item.get("attempt"),
        "finished_at": item.get("finished_at"),
        "error_type": item.get("error_type"),
        "error_message": item.get("error_message"),
    }


@shared.command("jobs cancel")
def run_cancel(args: argparse.Namespace) -> int:
    from lambda_jobs.jobstore.records import cancel_job

    from lambda_jobs_tools.ops import tables

    job_id = shared.job_id_argument(args.id)
    job = cancel_job(job_id, shared.load_config(args.config))
    tables.message(f"job {job.id} ({job.task_name}) is cancelled: it will not run")
    return shared.EXIT_OK
