"""``lambda-jobs enqueue TASK --args JSON``: send one job from a shell, checked like ``enqueue()``.

The task is looked up by importing its module (the longest importable prefix of its dotted name,
from the current directory or installed packages), so the job gets the task's own queue,
priority and FIFO message group, and the enqueue client's checks (JSON arguments, payload size,
delay limits, known queue, priority range) apply exactly as in the app. A name that the imported
module does not register is an error listing the tasks it does register.

``--name-only`` builds the envelope from the name without importing anything (for a shell that
does not have the app's code): the queue is ``--queue`` (default ``default``) and the priority
``--priority`` (default 0), because the task's own options are not known; the handler still
refuses the job if its function does not register that task (it lands in the DLQ as
``unknown_task``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from lambda_jobs_tools.ops import shared
from lambda_jobs_tools.ops.shared import OpsError

if TYPE_CHECKING:
    from lambda_jobs.tasks import Task


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "enqueue",
        help="enqueue one job of a task by name, with JSON arguments",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    shared.add_config_argument(parser)
    parser.add_argument("task", metavar="TASK", help="the task's name, e.g. myapp.tasks.send_mail")
    parser.add_argument("--args", default="[]", metavar="JSON", help="a JSON array of arguments")
    parser.add_argument("--kwargs", default="{}", metavar="JSON", help="a JSON object")
    parser.add_argument("--queue", metavar="NAME", help="queue (default: the task's)")
    parser.add_argument("--priority", metavar="N", help="-100..100 (default: the task's)")
    parser.add_argument("--delay", metavar="DURATION", help="run after 90s, 15m, 2h, 7d, ...")
    parser.add_argument(
        "--name-only",
        action="store_true",
        help="do not import the task's module: send by name (queue and priority from the options)",
    )
    parser.set_defaults(run=run)


def _json(text: str, option: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise OpsError(f"{option} is not valid JSON ({exc}): {text[:80]!r}") from None
    if not isinstance(value, kind):
        expected = "array, e.g. '[1, \"a\"]'" if kind is list else "object, e.g. '{\"a\": 1}'"
        raise OpsError(f"{option} must be a JSON {expected}; got {type(value).__name__}")
    return value


def _priority(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise OpsError(f"--priority {text!r}: expected a whole number in -100..100") from None


def find_task(name: str) -> Task[..., Any]:
    """Import the module that defines ``name`` and return the task it registers."""
    from lambda_jobs import registry

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    parts = name.split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise OpsError(
            f"task {name!r} is not a dotted task name such as myapp.tasks.send_mail "
            "(module path, then the function)"
        )
    imported = []
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                continue  # this prefix is not a module; try a shorter one
            raise OpsError(f"importing {module} for task {name!r} failed: {exc}") from None
        except Exception as exc:
            raise OpsError(
                f"importing {module} for task {name!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        imported.append(module)
        found = registry.get(name)
        if found is not None:
            return found
    if not imported:
        raise OpsError(
            f"cannot import a module of task {name!r} (tried {', '.join(parts[:-1])}...); run "
            "from your project directory, or pass --name-only to send it without importing"
        )
    # The deepest module imported is the one the name points into; its parents may have
    # registered unrelated tasks (a whole package of them), which would only bury the hint.
    known = sorted(t for t in registry.names() if t.startswith(imported[0] + "."))
    raise OpsError(
        f"unknown task {name!r}: {imported[0]} does not register it; it registers: "
        f"{', '.join(known) or '(no tasks)'}"
    )


def name_only_task(name: str) -> Task[..., Any]:
    from lambda_jobs.tasks import Task

    def not_here(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{name} was enqueued by name; it only runs in the job function")

    if not name or len(name) > 256:
        raise OpsError(f"task name {name!r} must be 1-256 characters")
    return Task(func=not_here, name=name)


@shared.command("enqueue")
def run(args: argparse.Namespace) -> int:
    from lambda_jobs.backends import enqueue
    from lambda_jobs.job import prepare

    from lambda_jobs_tools.ops.durations import parse_duration
    from lambda_jobs_tools.ops.tables import message

    positional = _json(args.args, "--args", list)
    keywords = _json(args.kwargs, "--kwargs", dict)
    priority = _priority(args.priority)
    delay = parse_duration(args.delay, "--delay") if args.delay is not None else None
    config = shared.load_config(args.config)
    task = name_only_task(args.task) if args.name_only else find_task(args.task)
    task = task.using(queue_name=args.queue, priority=priority, run_after=delay)
    (job,) = enqueue([prepare(task, tuple(positional), keywords)], config, single=True)
    print(job.id)
    message(f"enqueued {job.task_name} as {job.id} on queue {job.queue_name!r}")
    return shared.EXIT_OK
