"""Records Django's task signals in the job log, so the test sees them from the function."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class LocalAppConfig(AppConfig):
    name = "local_app"

    def ready(self) -> None:
        from django.tasks.signals import task_finished, task_started

        from .tasks import append

        def started(sender: type, task_result: Any, **kwargs: Any) -> None:
            append({"signal": "task_started", "job_id": task_result.id})

        def finished(sender: type, task_result: Any, **kwargs: Any) -> None:
            append(
                {"signal": "task_finished", "job_id": task_result.id, "status": task_result.status}
            )

        task_started.connect(started, weak=False)
        task_finished.connect(finished, weak=False)
