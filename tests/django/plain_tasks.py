"""A lambda-jobs task module with no Django in it, for the "runtime without Django" test."""

from __future__ import annotations

from pathlib import Path

from lambda_jobs import task


@task
def write_plain(path: str, text: str) -> None:
    Path(path).write_text(text, encoding="utf-8")
