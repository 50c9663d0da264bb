"""Record Django task signals as JSON lines in the file named by ``DJAPP_SIGNAL_LOG``.

Tests (and handler subprocesses) observe ``task_enqueued``/``task_started``/``task_finished``
through this file; when the variable is unset nothing is written.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.tasks import TaskResult
from django.tasks.signals import task_enqueued, task_finished, task_started

ENV_VAR = "DJAPP_SIGNAL_LOG"


def record(signal_name: str, sender: type, task_result: TaskResult[..., Any]) -> None:
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    line = {
        "signal": signal_name,
        "sender": sender.__name__,
        "id": task_result.id,
        "task": task_result.task.module_path,
        "status": str(task_result.status),
        "attempts": task_result.attempts,
        "errors": [error.exception_class_path for error in task_result.errors],
    }
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


def on_enqueued(sender: type, task_result: TaskResult[..., Any], **kwargs: Any) -> None:
    record("task_enqueued", sender, task_result)


def on_started(sender: type, task_result: TaskResult[..., Any], **kwargs: Any) -> None:
    record("task_started", sender, task_result)


def on_finished(sender: type, task_result: TaskResult[..., Any], **kwargs: Any) -> None:
    record("task_finished", sender, task_result)


def connect() -> None:
    task_enqueued.connect(on_enqueued, dispatch_uid="djapp.enqueued")
    task_started.connect(on_started, dispatch_uid="djapp.started")
    task_finished.connect(on_finished, dispatch_uid="djapp.finished")


def read(path: str) -> list[dict[str, Any]]:
    """The recorded lines of ``path`` (empty if nothing was recorded yet)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
