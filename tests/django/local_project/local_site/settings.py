"""Settings of the stand-alone Django project: the same file serves the web side and the jobs.

The web side gets its client configuration from ``LAMBDA_JOBS_CONFIG`` (the line
``lambda-jobs local`` prints); the functions need none.
"""

from __future__ import annotations

SECRET_KEY = "local-e2e-only"
USE_TZ = True
INSTALLED_APPS = ["local_app"]
DATABASES: dict[str, dict[str, str]] = {}
TASKS = {
    "default": {"BACKEND": "lambda_jobs.django.LambdaJobsBackend"},
    # A second alias of the same backend: ``TaskResult.task.backend`` must say which was used.
    "fast": {"BACKEND": "lambda_jobs.django.LambdaJobsBackend"},
}
