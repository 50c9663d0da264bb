"""``GoatDemo``: the demo tasks on SQS: a two-lane ``default`` queue and a FIFO ``ordered``."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobQueue, PriorityLane

from constructs import Construct
from stacks.demo_code import demo_code

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
            queues=[
                JobQueue(
                    "default",
                    lanes=[
                        PriorityLane(min_priority=-100, max_priority=49, max_concurrency=2),
                        PriorityLane(min_priority=50, max_priority=100, max_concurrency=5),
                    ],
                ),
                JobQueue("ordered", fifo=True, max_concurrency=2),
            ],
        )
