"""lambda-jobs-cdk: CDK constructs that provision a lambda-jobs backend.

::

    code = JobCode.from_directory("app", tasks=["app.tasks"])
    jobs = GoatJobBackend(self, "Jobs", code=code, queues=[JobQueue("default")])
    jobs.grant_enqueue(web_app_role)
    web_app.add_environment("LAMBDA_JOBS_CONFIG", jobs.client_config)
"""

from lambda_jobs_cdk.alarms import JobMonitoring
from lambda_jobs_cdk.goat import GoatJobBackend
from lambda_jobs_cdk.job_backend import JobBackend
from lambda_jobs_cdk.job_code import JobCode
from lambda_jobs_cdk.job_queue import JobQueue, PriorityLane
from lambda_jobs_cdk.job_store import JobStore
from lambda_jobs_cdk.lamb import LambJobBackend
from lambda_jobs_cdk.recurring import JobSchedule
from lambda_jobs_cdk.validation import JobBackendConfigError

__all__ = [
    "GoatJobBackend",
    "JobBackend",
    "JobBackendConfigError",
    "JobCode",
    "JobMonitoring",
    "JobQueue",
    "JobSchedule",
    "JobStore",
    "LambJobBackend",
    "PriorityLane",
]
