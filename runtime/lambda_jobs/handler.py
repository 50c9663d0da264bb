"""``lambda_jobs.handler.handle``: the one Lambda handler of both backends (the image's CMD).

Importing this module is the function's cold start
(:func:`lambda_jobs.worker.coldstart.cold_start`): it imports ``LAMBDA_JOBS_TASKS`` once, in
Lambda's init phase, so a missing variable or a task module that fails to import is an init error
that names it (awslambdaric reports it); so is the import of the backend ``LAMBDA_JOBS_BACKEND``
names, done there too. So import this module only where it is the Lambda entry
point; tests build their own :class:`~lambda_jobs.worker.coldstart.Runtime` with ``cold_start()``
and call :func:`lambda_jobs.worker.dispatch.dispatch` with it, which is all :func:`handle` does.

:func:`handle` tells its input apart by shape: :mod:`lambda_jobs.worker.dispatch` holds the
list of shapes and what each becomes (docs: reference/handler.md, "Event shapes").
"""

from __future__ import annotations

from lambda_jobs.worker import joblog, metrics
from lambda_jobs.worker.coldstart import cold_start
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs.worker.timelimit import AlarmSession

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from typing import Any

_runtime = cold_start()


def handle(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda handler: run the jobs in ``event`` with the tasks imported at cold start.

    Job metrics of the invocation are written as EMF lines when it ends
    (:mod:`lambda_jobs.worker.metrics`); the ``SIGALRM`` handler of the jobs' time limits is
    installed once for the invocation (:class:`~lambda_jobs.worker.timelimit.AlarmSession`).
    """
    metrics.begin()
    joblog.begin()
    try:
        with AlarmSession(on_fire=joblog.flush):
            return dispatch(event, context, _runtime)
    finally:
        joblog.end(metrics.close())
