"""What every operations command shares: the configuration it works on, its errors, its exit codes.

A command's function raises :class:`OpsError` for anything the user can fix (the message names the
option or value); :func:`command` turns that, and :class:`~lambda_jobs.errors.LambdaJobsError`,
into ``lambda-jobs <command>: error: ...`` on stderr and exit status 2. AWS errors keep their own
message and give exit status 1.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_jobs.errors import LambdaJobsError

if TYPE_CHECKING:
    from lambda_jobs.config import ClientConfig, Lane

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2


class OpsError(LambdaJobsError):
    """A command-line input is wrong; the message names it."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="CONFIG",
        help=(
            "the backend's client configuration: its JSON, 'ssm:<parameter name>', or a file "
            "holding the JSON (default: $LAMBDA_JOBS_CONFIG)"
        ),
    )


def load_config(value: str | None) -> ClientConfig:
    """The configuration named by ``--config`` (or ``LAMBDA_JOBS_CONFIG``); never ``inline``."""
    from lambda_jobs import config

    if value is None:
        loaded = config.load()
    else:
        text = value.strip()
        if text and not text.startswith("{") and not text.startswith("ssm:") and text != "inline":
            path = Path(text)
            if not path.is_file():
                raise OpsError(
                    f"--config {value!r}: not a JSON document, 'ssm:<name>' or an existing file"
                )
            text = path.read_text(encoding="utf-8")
        loaded = config.resolve(text)
    if loaded.is_inline:
        raise OpsError(
            "the configuration is 'inline': operations commands need a deployed backend or "
            "`lambda-jobs local` (use the LAMBDA_JOBS_CONFIG it prints)"
        )
    return loaded


def is_local(config: ClientConfig) -> bool:
    """True when the configuration points at ``lambda-jobs local`` (it sets ``endpoints``)."""
    return bool(config.endpoints)


def lanes(config: ClientConfig) -> list[tuple[str, Lane]]:
    """Every (queue name, lane) of the configuration, in queue then priority order."""
    return [
        (name, lane)
        for name in sorted(config.queues)
        for lane in sorted(config.queues[name].lanes, key=lambda lane: -lane.max_priority)
    ]


def unqualified_arn(arn: str) -> str:
    """A Lambda function ARN without its version or alias (``...:function:name``)."""
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 and parts[5] == "function" else arn


def lane_by_arn(config: ClientConfig, arn: str | None) -> tuple[str, Lane] | None:
    """The (queue name, lane) whose ARN is ``arn`` (a function ARN may carry a qualifier)."""
    if not arn:
        return None
    wanted = unqualified_arn(arn)
    for name, lane in lanes(config):
        if unqualified_arn(lane.arn) == wanted:
            return name, lane
    return None


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[..., int]]:
    """Decorate a command's run function: user errors → stderr and exit status 2."""

    def wrap(run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
        @functools.wraps(run)
        def wrapped(args: argparse.Namespace) -> int:
            try:
                return run(args)
            except LambdaJobsError as exc:
                print(f"lambda-jobs {name}: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            except Exception as exc:
                if type(exc).__module__.startswith("botocore"):
                    print(f"lambda-jobs {name}: AWS error: {exc}", file=sys.stderr)
                    return EXIT_PARTIAL
                raise

        return wrapped

    return wrap


def sqs(config: ClientConfig) -> Any:
    from lambda_jobs import aws

    return aws.client("sqs", config)
