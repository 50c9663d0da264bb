"""A Django task in a module the handler is not told to import: it must never run from a message."""

from __future__ import annotations

from pathlib import Path

from django.tasks import task


@task
def not_allowed(path: str) -> None:
    Path(path).write_text("should never run", encoding="utf-8")
