"""lambda-jobs as a Django Tasks backend (``django.tasks``, Django 6).

Install with ``pip install lambda-jobs[django]``, then set::

    TASKS = {"default": {"BACKEND": "lambda_jobs.django.LambdaJobsBackend"}}

A project keeps its ``@task`` functions (``from django.tasks import task``) and changes only this
setting. ``import lambda_jobs`` never imports Django: this subpackage is loaded only by the setting
above and, in Lambda, by the handler when ``DJANGO_SETTINGS_MODULE`` is set.
"""

from lambda_jobs.django.backend import InvalidTaskArguments, LambdaJobsBackend
from lambda_jobs.django.task import LambdaJobsTask

__all__ = ["InvalidTaskArguments", "LambdaJobsBackend", "LambdaJobsTask"]
