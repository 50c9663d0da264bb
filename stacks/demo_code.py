"""What both demo stacks share: the job image (``stacks/demo_project``) and ``default`` queue."""

from __future__ import annotations

from pathlib import Path

from lambda_jobs_cdk import JobCode, JobQueue, PriorityLane

DEMO_PROJECT = Path(__file__).parent / "demo_project"
DEMO_TASKS = ("demo_tasks",)


def demo_code() -> JobCode:
    """The demo project staged as an image build context (ARM64)."""
    return JobCode.from_directory(DEMO_PROJECT, tasks=DEMO_TASKS)


def demo_default_queue() -> JobQueue:
    """``default`` with two lanes: priorities 50..100 get more workers than the rest."""
    return JobQueue(
        "default",
        lanes=[
            PriorityLane(min_priority=-100, max_priority=49, max_concurrency=2),
            PriorityLane(min_priority=50, max_priority=100, max_concurrency=5),
        ],
    )
