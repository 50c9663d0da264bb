"""The ``lambda-jobs local`` subcommand: its options and its main loop.

Importing this module is cheap (argparse only); the emulator itself is imported when the command
runs. Output contract: once every backend is ready, stdout gets one line per backend, exactly
``LAMBDA_JOBS_CONFIG=<json>``; everything else (the job log, function output, errors) goes to
stderr. SIGINT, SIGTERM and SIGHUP (the terminal closed) stop every child process and exit 0; if the
emulator is killed, its children still end (:mod:`~lambda_jobs_tools.emulator.reaper`). An assembly
with no lambda-jobs backend (or ``--stack`` naming none) is refused: there would be nothing to run.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

DEFAULT_APP = "cdk.out"
#: The ranges of the factor and count options (``--help`` and docs/guide/local.md state them).
ASYNC_RETRY_SCALE_RANGE = (0.0, 10.0)
SCHEDULE_CLOCK_SCALE_RANGE = (1.0, 3600.0)
CONCURRENCY_RANGE = (1, 64)
#: The signals that stop the emulator cleanly.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class UsageError(ValueError):
    """A command-line value is wrong; the message names the option."""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the synthesized job backends on this machine (no AWS account, no Docker)",
        description=(
            "Run the job backends of a synthesized CDK app locally: SQS, SSM and Scheduler in a "
            "moto server, Lambda functions as awslambdaric processes. Prints one "
            "LAMBDA_JOBS_CONFIG=<json> line per backend on stdout once ready."
        ),
    )
    parser.add_argument(
        "--app",
        default=DEFAULT_APP,
        help="the cloud assembly directory `cdk synth` wrote (default: %(default)s)",
    )
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this stack (repeatable; default: every stack of the assembly)",
    )
    parser.add_argument(
        "--region",
        help="region of environment-agnostic stacks (default: the stack's, else us-east-1)",
    )
    parser.add_argument(
        "--async-retry-scale",
        default="1.0",
        metavar="FACTOR",
        help=(
            "multiply Lambda's async retry waits (about 60 s, then 120 s) by FACTOR, "
            f"{ASYNC_RETRY_SCALE_RANGE[0]:g} to {ASYNC_RETRY_SCALE_RANGE[1]:g}; "
            "0.05 makes them 3 s and 6 s (default: %(default)s, AWS's timing)"
        ),
    )
    parser.add_argument(
        "--schedule-clock-scale",
        default="1",
        metavar="FACTOR",
        help=(
            "run recurring (rate/cron) schedules on a clock FACTOR times faster than real time "
            f"from the emulator's start, {SCHEDULE_CLOCK_SCALE_RANGE[0]:g} to "
            f"{SCHEDULE_CLOCK_SCALE_RANGE[1]:g}; 60 makes rate(1 minute) fire every second "
            "(default: %(default)s, real time; one-time schedules always keep real time)"
        ),
    )
    parser.add_argument(
        "--concurrency",
        default="4",
        metavar="N",
        help=(
            "execution environments per function when the template reserves no concurrency, "
            f"{CONCURRENCY_RANGE[0]} to {CONCURRENCY_RANGE[1]}; never fewer than its SQS "
            "mappings' MaximumConcurrency together (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set an environment variable in every function (repeatable; wins over the template)",
    )
    parser.add_argument(
        "--quiet-functions",
        action="store_true",
        help="do not copy the functions' own output to stderr",
    )
    parser.add_argument(
        "--no-iam",
        action="store_true",
        help=(
            "serve every AWS call without judging it against the template's IAM policies "
            "(default: each call is made as the template's principal and denied as AWS would)"
        ),
    )
    parser.add_argument(
        "--iam-report",
        metavar="FILE",
        help="on stopping, write each role's granted action x resource and whether a call used it",
    )
    parser.add_argument(
        "--caller-role",
        metavar="ROLE",
        help=(
            "the role (logical id or name) that callers signing with any other access key act "
            "as, e.g. the role given grant_enqueue; a caller signing with a role's logical id or "
            "name as access key acts as that role (default: other keys are not checked)"
        ),
    )
    parser.set_defaults(run=run)


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``--env NAME=VALUE`` pairs as a dict; a malformed pair raises :class:`UsageError`."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise UsageError(f"--env {pair!r}: expected NAME=VALUE with a variable name as NAME")
        result[name] = value
    return result


def parse_scale(option: str, text: str, *, low: float, high: float, example: str) -> float:
    """A factor option's value in ``low..high``; :class:`UsageError` naming ``option`` if not."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected a number such as {example}") from None
    if not low <= value <= high:
        raise UsageError(f"{option} {text!r}: must be between {low:g} and {high:g}")
    return value


def parse_concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--concurrency {text!r}: expected a whole number such as 4") from None
    low, high = CONCURRENCY_RANGE
    if not low <= value <= high:
        raise UsageError(f"--concurrency {text!r}: must be between {low} and {high}")
    return value


def run(args: argparse.Namespace) -> int:
    from lambda_jobs_tools.emulator.assembly import AssemblyError
    from lambda_jobs_tools.emulator.iam.evaluator import EvaluatorUnavailable
    from lambda_jobs_tools.emulator.local import LocalCloud, LocalOptions
    from lambda_jobs_tools.emulator.motoserver import MotoStartError
    from lambda_jobs_tools.emulator.provision import ProvisionError

    try:
        options = LocalOptions(
            app=Path(args.app),
            stacks=list(args.stack),
            region=args.region,
            async_retry_scale=parse_scale(
                "--async-retry-scale",
                args.async_retry_scale,
                low=ASYNC_RETRY_SCALE_RANGE[0],
                high=ASYNC_RETRY_SCALE_RANGE[1],
                example="0.05",
            ),
            schedule_clock_scale=parse_scale(
                "--schedule-clock-scale",
                args.schedule_clock_scale,
                low=SCHEDULE_CLOCK_SCALE_RANGE[0],
                high=SCHEDULE_CLOCK_SCALE_RANGE[1],
                example="60",
            ),
            default_concurrency=parse_concurrency(args.concurrency),
            function_environment=parse_env(args.env),
            show_function_output=not args.quiet_functions,
            iam=not args.no_iam,
            iam_report=Path(args.iam_report) if args.iam_report else None,
            caller_role=args.caller_role,
        )
    except UsageError as exc:
        print(f"lambda-jobs local: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    cloud = LocalCloud(options)
    try:
        cloud.start()
    except (AssemblyError, ProvisionError, EvaluatorUnavailable, MotoStartError) as exc:
        print(f"lambda-jobs local: {exc}", file=sys.stderr)
        _restore(previous)
        return 1
    try:
        configs = cloud.client_configs()
        if not configs:
            names = ", ".join(spec.name for spec in cloud.stacks)
            print(
                f"lambda-jobs local: no lambda-jobs backend in stack(s) {names}: none publishes a "
                "client configuration (no LambJobBackend or GoatJobBackend); name a stack that "
                "has one with --stack, or synthesize the app that defines it",
                file=sys.stderr,
            )
            return 1
        _warn_if_stale(options.app, cloud)
        for document in configs:
            print(f"LAMBDA_JOBS_CONFIG={json.dumps(document, separators=(',', ':'))}", flush=True)
        print(
            f"lambda-jobs local: ready ({len(configs)} backend(s)); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        while not stopping.wait(0.5):
            pass
        print("lambda-jobs local: stopping", file=sys.stderr, flush=True)
    finally:
        cloud.stop()
        _restore(previous)
    return 0


def _warn_if_stale(app: Path, cloud: Any) -> None:
    """Say which task modules changed after the synthesis (their jobs run the old copy)."""
    from lambda_jobs_tools.emulator.staleness import stale_task_modules

    roots = [Path.cwd(), app.resolve().parent]
    for path in stale_task_modules(app, cloud.functions.values(), roots):
        print(
            f"lambda-jobs local: warning: {path} changed after {app} was synthesized; the "
            "functions run the synthesized copy (a task added since is dead-lettered as "
            "unknown_task): run `cdk synth` again",
            file=sys.stderr,
        )


def _restore(handlers: dict[signal.Signals, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
