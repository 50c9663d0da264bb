"""Tasks of the operations tests: their behaviour is steered by files, so a test decides."""

from __future__ import annotations

from pathlib import Path

from lambda_jobs import task


@task
def flaky(path: str) -> None:
    """Fails while ``<path>.fail`` exists; otherwise appends ``ran`` to ``path``."""
    if Path(path + ".fail").exists():
        raise RuntimeError(f"flaky job told to fail ({Path(path).name})")
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write("ran\n")


@task(queue_name="ordered")
def ordered(path: str) -> None:
    flaky.func(path)
