"""Settings of the test Django project.

Tests in-process use these through ``settings.configure`` (see ``tests/django/conftest.py``), never
through a process-wide ``DJANGO_SETTINGS_MODULE``; handler subprocesses get
``DJANGO_SETTINGS_MODULE=tests.django.djproject.settings`` in their own environment.

The default backend reads its client configuration from ``LAMBDA_JOBS_CONFIG`` (tests set it per
test, or override ``TASKS``); ``QUEUES`` lists the queues of the test Goat backend.
"""

from __future__ import annotations

import os
import tempfile

SECRET_KEY = "tests-only"
USE_TZ = True
INSTALLED_APPS = ["tests.django.djapp"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TASKS = {
    "default": {
        "BACKEND": "lambda_jobs.django.LambdaJobsBackend",
        "QUEUES": ["default", "orders"],
    },
    "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
}

# A file database (CONN_MAX_AGE 0): a connection a job opens is observable, and so is its closing.
JOBS_DATABASE = os.path.join(
    tempfile.gettempdir(), f"lambda-jobs-django-tests-{os.getpid()}.sqlite3"
)
DATABASES["files"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": JOBS_DATABASE}
