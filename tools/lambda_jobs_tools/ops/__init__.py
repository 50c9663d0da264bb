"""Operations commands of the ``lambda-jobs`` console script: ``status``, ``dlq ...``, ``enqueue``,
``schedules``, ``jobs ...`` and ``workflows show``.

:func:`add_parser` adds them to the script's subparsers (``lambda_jobs_tools.cli`` lists this
package among its subcommand modules). Every command reads the client configuration from
``--config`` or ``LAMBDA_JOBS_CONFIG`` and talks to AWS, or to ``lambda-jobs local``, through boto3
with that configuration's region and endpoints. Importing this package and its command modules
(``<command>_command``) is cheap (argparse only); boto3 and rich load when a command runs.
"""

from __future__ import annotations

from typing import Any


def add_parser(subparsers: Any) -> None:
    """Add ``status``, ``dlq``, ``enqueue``, ``schedules`` and ``jobs`` to the subparsers."""
    from lambda_jobs_tools.ops import (
        dlq_command,
        enqueue_command,
        jobs_command,
        schedules_command,
        status_command,
        workflows_command,
    )

    status_command.add_parser(subparsers)
    dlq_command.add_parser(subparsers)
    enqueue_command.add_parser(subparsers)
    schedules_command.add_parser(subparsers)
    jobs_command.add_parser(subparsers)
    workflows_command.add_parser(subparsers)
