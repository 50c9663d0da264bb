"""Terminal output of the operations commands: rich tables, a progress bar, a confirmation.

rich (a dependency of lambda-jobs-tools) is imported only here, inside the functions,
when a command prints. ``--json`` output (for scripts) does not need it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from lambda_jobs_tools.ops.shared import OpsError

#: Width used when stdout is not a terminal (pipes, CI logs), so columns are not cut to 80.
PIPE_WIDTH = 200


def _rich() -> Any:
    try:
        import rich
    except ImportError:
        raise OpsError(
            "this command prints with rich: pip install lambda-jobs-tools (or use --json)"
        ) from None
    return rich


def console(stderr: bool = False) -> Any:
    _rich()
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else PIPE_WIDTH)


#: Columns never folded: a job id is copied into ``dlq show ID`` or ``jobs show ID``, and one cut in
#: two cannot be.
WHOLE_COLUMNS = frozenset({"job id"})


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    _rich()
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in WHOLE_COLUMNS)
    for row in rows:
        table.add_row(*row)
    console().print(table)


def print_fields(title: str, fields: Sequence[tuple[str, str]]) -> None:
    """A two-column key/value table (one job's details)."""
    _rich()
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in fields:
        table.add_row(key, value)
    console().print(table)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def message(text: str) -> None:
    """A line for the human at the terminal (stderr, so ``--json`` output stays clean)."""
    print(text, file=sys.stderr, flush=True)


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``."""
    _rich()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(count: int = 1) -> None:
            bar.update(task, advance=count)

        yield advance


def confirm(question: str) -> bool:
    """Ask on the terminal; anything but y/yes is no. Without a terminal the answer is no."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
