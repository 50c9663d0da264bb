"""``GoatDemo``: the demo tasks on SQS: a two-lane ``default`` queue, a FIFO ``ordered``, and a
recurring job every 10 minutes (Lisbon time)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from lambda_jobs_cdk import GoatJobBackend, JobQueue, JobStore

from constructs import Construct
from stacks.demo_code import demo_code, demo_default_queue, demo_principals, demo_schedule

DEMO_TIMEOUT = Duration.seconds(30)
"""Short, so that visibility timeouts (6 x timeout) stay short too."""


class GoatDemoStack(Stack):
    """One Goat backend: ``default`` (priorities 50..100 get more workers), ``ordered`` (FIFO)."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, description="lambda-jobs demo: Goat backend (SQS)", **kwargs)
        self.jobs = GoatJobBackend(
            self,
            "Jobs",
            code=demo_code(),
            timeout=DEMO_TIMEOUT,
            # A demo is torn down with `cdk destroy`: nothing of it is kept (apps keep RETAIN).
            removal_policy=RemovalPolicy.DESTROY,
            job_store=JobStore(ttl=Duration.days(7), removal_policy=RemovalPolicy.DESTROY),
            queues=[
                demo_default_queue(),
                JobQueue("ordered", fifo=True, max_concurrency=2),
            ],
            schedules=[demo_schedule("goat", cron="0/10 * * * ? *", timezone="Europe/Lisbon")],
        )
        self.app_role, self.operator_role = demo_principals(self, self.jobs)
