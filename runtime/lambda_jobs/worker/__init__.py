"""The worker wing: what runs inside the Lambda function.

:mod:`~lambda_jobs.worker.coldstart` imports the task modules and the function's backend once;
:mod:`~lambda_jobs.worker.dispatch` routes each event by shape to :mod:`~lambda_jobs.worker.goat`
(SQS batches) or :mod:`~lambda_jobs.worker.lamb` (async invokes and scheduler deliveries), which
share :mod:`~lambda_jobs.worker.triage` (decode, allow-list, options, attempt count) and
:mod:`~lambda_jobs.worker.deadletter`; :mod:`~lambda_jobs.worker.runner` runs one attempt under
:mod:`~lambda_jobs.worker.timelimit`, and :mod:`~lambda_jobs.worker.joblog` and
:mod:`~lambda_jobs.worker.metrics` report it; with the job store on,
:mod:`~lambda_jobs.jobstore.claims` claims each job and records its outcome. This package never
imports :mod:`lambda_jobs.enqueue`. A function loads only what its success path runs (the other
backend, the schedules and the job store's code load when a job needs them): the handler's
cold-start import list is pinned by ``tests/runtime/worker/test_coldstart.py``.
"""
