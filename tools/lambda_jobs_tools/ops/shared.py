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
    from lambda_jobs.config import ClientConfig, DeadLetterQueue, Lane

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
    """The configuration named by ``--config`` (or ``LAMBDA_JOBS_CONFIG``); never ``inline``.

    Every error names where the configuration came from (``--config``, its file, or the variable)
    and what is accepted there: an operations command never runs ``inline``.
    """
    import os

    from lambda_jobs import config
    from lambda_jobs.errors import ConfigurationError

    source = "--config"
    if value is None:
        if not os.environ.get(config.ENV_VAR, "").strip():
            raise OpsError(
                f"no client configuration: pass --config (the JSON document your backend "
                f"publishes, 'ssm:<parameter name>' or a file holding the JSON) or set "
                f"{config.ENV_VAR} to one of those; `lambda-jobs local` prints one per backend"
            )
        source = config.ENV_VAR
        text = os.environ[config.ENV_VAR]
    else:
        text = value.strip()
        if not text:
            raise OpsError(
                "--config '': expected the JSON document, 'ssm:<parameter name>' or a file"
            )
        if not text.startswith("{") and not text.startswith("ssm:") and text != "inline":
            path = Path(text)
            if not path.is_file():
                raise OpsError(
                    f"--config {value!r}: not a JSON document, 'ssm:<name>' or an existing file"
                )
            source = f"--config {value!r}"
            text = path.read_text(encoding="utf-8")
    try:
        loaded = config.resolve(text) if value is not None else config.load()
    except ConfigurationError as exc:
        message = str(exc)
        if source != config.ENV_VAR and message.startswith(config.ENV_VAR):
            message = source + message[len(config.ENV_VAR) :]
        raise OpsError(message) from None
    if loaded.is_inline:
        raise OpsError(
            f"{source} is 'inline': operations commands need a deployed backend's configuration "
            "or the one `lambda-jobs local` prints"
        )
    return loaded


def dead_letter_queues(config: ClientConfig) -> list[DeadLetterQueue]:
    """Every queue a failed job can end up in: the DLQ, then Goat's FIFO crash-net DLQ if any."""
    found = [config.dead_letter_queue, config.fifo_dead_letter_queue]
    return [dlq for dlq in found if dlq is not None]


def queue_name(url: str) -> str:
    """The queue name at the end of an SQS queue URL."""
    return url.rsplit("/", 1)[-1]


def job_id_argument(text: str, name: str = "ID") -> str:
    """A job id typed on the command line: not empty, no blanks, at most 2,048 bytes (DynamoDB's
    partition key limit); anything else is refused before a request is made."""
    if not text or any(c.isspace() for c in text) or len(text.encode()) > 2048:
        raise OpsError(
            f"{name} {text[:80]!r} is not a job id: expected the id `enqueue` printed, such as "
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427 (not empty, no blanks, at most 2048 bytes)"
        )
    return text


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
