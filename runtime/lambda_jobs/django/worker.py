"""The handler's Django side: set Django up once, and make Django tasks runnable by name.

The handler (:mod:`lambda_jobs.handler`) calls these at cold start when ``DJANGO_SETTINGS_MODULE``
is set::

    worker.setup()                     # before importing the LAMBDA_JOBS_TASKS modules
    worker.register_tasks(modules)     # after importing them, before snapshotting the registry

What callers may rely on:

- :func:`setup` runs ``django.setup()`` at most once per process.
- :func:`register_tasks` looks only at the Django tasks *defined* in the given modules (a task
  imported into one of them from elsewhere is ignored), and only at those whose backend is a
  :class:`~lambda_jobs.django.LambdaJobsBackend`. Each is registered in :mod:`lambda_jobs.registry`
  under its ``module_path`` as a lambda-jobs task that runs it (:mod:`lambda_jobs.django.runner`),
  with the retries and timeout of its declaration and its backend's ``OPTIONS``; the envelope's
  ``overrides`` (set at enqueue) win over these. A message naming any other Django task is not in
  the registry and is dead-lettered by the handler like any task outside ``LAMBDA_JOBS_TASKS``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

_set_up = False


def setup() -> None:
    """``django.setup()``, once per process (settings from ``DJANGO_SETTINGS_MODULE``)."""
    global _set_up
    if _set_up:
        return
    import django

    django.setup()
    _set_up = True


def register_tasks(modules: Iterable[ModuleType | str]) -> list[str]:
    """Register the lambda-jobs Django tasks defined in ``modules``; returns their names.

    ``modules`` are module objects or dotted names of modules already imported (a name not yet
    imported is imported). Registering the same module twice is harmless.
    """
    from django.tasks import Task

    from lambda_jobs import registry
    from lambda_jobs.django.backend import LambdaJobsBackend
    from lambda_jobs.django.runner import DjangoTaskRunner, job_task_for

    names: list[str] = []
    for entry in modules:
        module = _module(entry)
        for value in list(vars(module).values()):
            if not isinstance(value, Task) or value.func.__module__ != module.__name__:
                continue
            backend = _backend_of(value)
            if not isinstance(backend, LambdaJobsBackend):
                _warn_not_registered(value, backend)
                continue
            name = value.module_path
            existing = registry.get(name)
            if not (
                existing is not None
                and isinstance(existing.func, DjangoTaskRunner)
                and existing.func.django_task.func is value.func
            ):
                registry.register(job_task_for(value, backend.job_options(value)))
            if name not in names:
                names.append(name)
    return names


def _backend_of(task: Any) -> Any:
    """The task's backend, or the exception that loading it raised."""
    from django.tasks.exceptions import InvalidTaskBackend

    try:
        return task.get_backend()
    except InvalidTaskBackend as exc:
        return exc


def _warn_not_registered(task: Any, backend: Any) -> None:
    """One WARNING line: ``task`` is defined in a tasks module but will not run here."""
    import json

    setting = f"TASKS[{task.backend!r}]['BACKEND']"
    if isinstance(backend, Exception):
        found = f"cannot be loaded ({backend})"
    else:
        kind = type(backend)
        found = f"is {kind.__module__}.{kind.__qualname__}"
    line = {
        "type": "lambda_jobs.coldstart",
        "level": "WARNING",
        "task": task.module_path,
        "setting": setting,
        "message": (
            f"Django task {task.module_path} is not registered: in this function's settings its "
            f"backend {setting} {found}, not lambda_jobs.django.LambdaJobsBackend, so its jobs "
            "are dead-lettered as unknown_task; make the settings choose LambdaJobsBackend in "
            "the function too"
        ),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _module(entry: Any) -> ModuleType:
    if isinstance(entry, ModuleType):
        return entry
    found = sys.modules.get(entry)
    return found if found is not None else importlib.import_module(entry)
