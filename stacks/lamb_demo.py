"""``LambDemo``: the demo tasks on async Lambda invokes — a two-lane ``default`` queue and a
recurring job every 5 minutes."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from lambda_jobs_cdk import JobStore, LambJobBackend

from constructs import Construct
from stacks.demo_code import demo_code, demo_default_queue, demo_principals, demo_schedule

DEMO_TIMEOUT = Duration.seconds(30)


class LambDemoStack(Stack):
    """One Lamb backend: ``default`` with two lanes (priorities 50..100 reserve more workers).

    Reserved concurrency needs an account whose concurrency limit leaves 100 unreserved (the
    default limit of 1000 does; a new account's limit of 10 does not).
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(
            scope, id, description="lambda-jobs demo: Lamb backend (async invoke)", **kwargs
        )
        self.jobs = LambJobBackend(
            self,
            "Jobs",
            code=demo_code(),
            timeout=DEMO_TIMEOUT,
            # A demo is torn down with `cdk destroy`: nothing of it is kept (apps keep RETAIN).
            removal_policy=RemovalPolicy.DESTROY,
            job_store=JobStore(ttl=Duration.days(7), removal_policy=RemovalPolicy.DESTROY),
            queues=[demo_default_queue()],
            schedules=[demo_schedule("lamb", rate="5 minutes")],
        )
        self.app_role, self.operator_role = demo_principals(self, self.jobs)
