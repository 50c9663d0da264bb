"""The enqueue wing: what runs in the user's app when a job is sent.

:mod:`~lambda_jobs.enqueue.client` validates and encodes jobs and picks each one's lane;
:mod:`~lambda_jobs.enqueue.goat` (SQS) and :mod:`~lambda_jobs.enqueue.lamb` (async ``Invoke``) send
them through :mod:`~lambda_jobs.enqueue.outgoing`; :mod:`~lambda_jobs.enqueue.inline` runs them
in-process for ``LAMBDA_JOBS_CONFIG=inline``. Nothing in :mod:`lambda_jobs.worker` imports this
package, so the Lambda handler's cold start never loads it.
"""
