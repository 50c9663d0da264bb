"""The enqueue wing: what runs in the user's app when a job is sent.

:mod:`~lambda_jobs.enqueue.client` validates and encodes jobs and picks each one's lane;
:mod:`~lambda_jobs.enqueue.goat` (SQS) and :mod:`~lambda_jobs.enqueue.lamb` (async ``Invoke``) send
them through :mod:`~lambda_jobs.enqueue.outgoing`; :mod:`~lambda_jobs.enqueue.inline` runs them
in-process for ``LAMBDA_JOBS_CONFIG=inline``. Each is a backend's ``sender``
(:mod:`lambda_jobs.backends`): core modules and :mod:`lambda_jobs.worker` reach this package only
through that object and import none of it, so the Lambda handler's cold start never loads it.
"""
