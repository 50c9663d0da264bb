"""The demo's job image: ``stacks/demo_project`` with its ``demo_tasks`` module."""

from __future__ import annotations

from pathlib import Path

from lambda_jobs_cdk import JobCode

DEMO_PROJECT = Path(__file__).parent / "demo_project"
DEMO_TASKS = ("demo_tasks",)


def demo_code() -> JobCode:
    """The demo project staged as an image build context (ARM64)."""
    return JobCode.from_directory(DEMO_PROJECT, tasks=DEMO_TASKS)
