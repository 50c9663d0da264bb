"""The handler's cold start: import ``LAMBDA_JOBS_TASKS`` once, then fix the set of runnable tasks.

:func:`cold_start` runs when ``lambda_jobs.handler`` is imported, i.e. in Lambda's init phase, so
any mistake here (variable unset, a task module that does not import) is reported by awslambdaric
as an init error with our message, before any message is taken from a queue.

With ``DJANGO_SETTINGS_MODULE`` set, Django is set up before the task modules are imported
(``lambda_jobs.django.worker.setup()``) and their Django tasks are registered after
(``lambda_jobs.django.worker.register_tasks(modules)``, given the imported module objects).

The snapshot of :func:`lambda_jobs.registry.names` taken afterwards is the allow-list: a message
naming any other task is dead-lettered (``unknown_task`` if nothing has that name, ``not_allowed``
if something registered it later, for example a module a job imported at run time).

``LAMBDA_JOBS_BACKEND`` (``goat`` or ``lamb``, set by the construct) names the backend whose module
is imported here too (:func:`load_backend`), so its import is init-phase work: done before the
first invoke (ahead of any event with provisioned concurrency, inside the snapshot with SnapStart:
"Understanding the Lambda execution environment lifecycle", AWS Lambda Developer Guide,
docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), and a failure in it an
init error. Unset (tests, by-hand runs), :mod:`lambda_jobs.worker.dispatch` imports a backend when
its first event arrives; either way a function loads only the backend it runs.

``LAMBDA_JOBS_JOB_TABLE`` (set by the construct when the job store is on) gives the runtime its
:class:`~lambda_jobs.jobstore.claims.WorkerStore`, whose DynamoDB client is made here, at init
(so boto3 loads at cold start then); unset, the store is off and boto3 is not loaded.
"""

from __future__ import annotations

import importlib
import os

from lambda_jobs import registry
from lambda_jobs.contract import JOB_TABLE_ENV
from lambda_jobs.errors import ConfigurationError, TaskNotAllowedError
from lambda_jobs.worker.deadline import margin_from
from lambda_jobs.worker.joblog import BACKEND_ENV

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType
    from typing import Any

    from lambda_jobs.jobstore.claims import WorkerStore
    from lambda_jobs.tasks import Task

TASKS_ENV = "LAMBDA_JOBS_TASKS"
DJANGO_SETTINGS_ENV = "DJANGO_SETTINGS_MODULE"
DJANGO_WORKER_MODULE = "lambda_jobs.django.worker"
#: The module of each backend's handler, by its ``LAMBDA_JOBS_BACKEND`` name.
BACKEND_MODULES = {"goat": "lambda_jobs.worker.goat", "lamb": "lambda_jobs.worker.lamb"}


class UnknownTaskError(TaskNotAllowedError):
    """No task of that name is registered in this function at all (DLQ reason ``unknown_task``)."""


class Runtime:
    """What cold start produced: the runnable task names and the deadline margin."""

    __slots__ = ("allowed", "deadline_margin_ms", "modules", "store")

    def __init__(
        self,
        *,
        allowed: frozenset[str],
        deadline_margin_ms: int,
        modules: tuple[str, ...] = (),
        store: WorkerStore | None = None,
    ) -> None:
        self.allowed = allowed
        self.deadline_margin_ms = deadline_margin_ms
        self.modules = modules
        self.store = store
        """The job store (``LAMBDA_JOBS_JOB_TABLE``), or None when it is off."""

    def task(self, name: str) -> Task[..., Any]:
        """The runnable task ``name``; raises :class:`UnknownTaskError` or
        :class:`~lambda_jobs.errors.TaskNotAllowedError` (registered after cold start)."""
        if name in self.allowed:
            found = registry.get(name)
            if found is not None:
                return found
        if registry.get(name) is None:
            raise UnknownTaskError(
                f"no task named {name!r} is registered by {TASKS_ENV} ({', '.join(self.modules)})"
            )
        raise TaskNotAllowedError(
            f"task {name!r} was not registered by the {TASKS_ENV} modules at cold start "
            f"({', '.join(self.modules)}), so this function does not run it"
        )


def task_modules(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The module names in ``LAMBDA_JOBS_TASKS``; unset or empty is an error naming it."""
    raw = environ.get(TASKS_ENV, "")
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise ConfigurationError(
            f"{TASKS_ENV} is not set: list the modules that define your tasks, comma-separated "
            "(JobCode.from_directory(tasks=[...]) sets it in the image)"
        )
    return names


def _import_task_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ConfigurationError(
            f"{TASKS_ENV}: could not import task module {name!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _django_worker() -> Any:
    try:
        return importlib.import_module(DJANGO_WORKER_MODULE)
    except ImportError as exc:
        raise ConfigurationError(
            f"{DJANGO_SETTINGS_ENV} is set, but {DJANGO_WORKER_MODULE} cannot be imported "
            f"({exc}); install lambda-jobs[django] in the image or unset {DJANGO_SETTINGS_ENV}"
        ) from exc


def load_backend(environ: Mapping[str, str]) -> str | None:
    """Import the module of the backend ``LAMBDA_JOBS_BACKEND`` names; returns it (None: unset).

    Any other value is an error naming the variable and the allowed ones.
    """
    name = environ.get(BACKEND_ENV, "").strip()
    if not name:
        return None
    module = BACKEND_MODULES.get(name)
    if module is None:
        raise ConfigurationError(
            f"{BACKEND_ENV} is {name[:64]!r}: expected one of {', '.join(BACKEND_MODULES)} "
            "(the constructs set it), or unset"
        )
    importlib.import_module(module)
    return module


def cold_start(environ: Mapping[str, str] | None = None) -> Runtime:
    """Import the task modules named in the environment and return the resulting :class:`Runtime`.

    Importing a module twice is a no-op (Python caches modules), so calling this again (tests do)
    re-reads the environment and re-takes the snapshot without re-running module code.
    """
    env = os.environ if environ is None else environ
    names = task_modules(env)
    margin = margin_from(env)
    load_backend(env)
    django = _django_worker() if env.get(DJANGO_SETTINGS_ENV) else None
    if django is not None:
        django.setup()
    modules = [_import_task_module(name) for name in names]
    if django is not None:
        django.register_tasks(modules)
    store: WorkerStore | None = None
    if not env.get(JOB_TABLE_ENV, "").strip():
        _refuse_limits_without_store(names)
    else:  # the store's code loads only when it is on
        from lambda_jobs.jobstore.claims import from_env

        store = from_env(env)
    if store is not None:
        # In the init phase, not in the first job's time: importing boto3 and building the
        # DynamoDB client take hundreds of milliseconds, which a claim would take from the job.
        store.connect()
    return Runtime(
        allowed=registry.names(),
        deadline_margin_ms=margin,
        modules=names,
        store=store,
    )


def _refuse_limits_without_store(modules: tuple[str, ...]) -> None:
    """An init error naming the tasks with ``limits`` defined in the task ``modules`` (or their
    submodules) when the function has no job store: limits are held in the store's table, and a
    job under them must not run unchecked (the worker makes it wait instead)."""
    limited = []
    for name in sorted(registry.names()):
        found = registry.get(name)
        home = str(getattr(getattr(found, "func", None), "__module__", ""))
        if getattr(found, "limits", ()) and any(
            home == module or home.startswith(module + ".") for module in modules
        ):
            limited.append(name)
    if limited:
        raise ConfigurationError(
            f"task {', '.join(limited)} has limits=[...], which need the job store, and this "
            f"function has no {JOB_TABLE_ENV}: deploy the backend with the job_store prop "
            "(job_store=JobStore(...)), or remove the limits (docs/guide/limits.md)"
        )
