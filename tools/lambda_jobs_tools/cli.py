"""``lambda-jobs``: the console script. A thin dispatcher: each subcommand lives in its own module.

A subcommand module provides ``add_parser(subparsers)``, which registers its parser and sets the
``run`` default to a callable ``(argparse.Namespace) -> int`` (the exit status). Those modules
import nothing heavy at module level, so ``lambda-jobs --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lambda_jobs_tools import ops
from lambda_jobs_tools.emulator import local_command

SUBCOMMANDS = (local_command, ops)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-jobs", description="Background jobs on AWS Lambda: tools."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
