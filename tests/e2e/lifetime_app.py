"""The CDK app of the emulator-lifetime tests (``tests/e2e/test_emulator_lifetime.py``).

- ``Lifetime``: a Goat backend running ``lifetime_tasks`` from the project folder given as the
  first argument (default ``tests/e2e/lifetime_project``): the tests synthesize a copy of it, so
  that one of them can change a task module after the synth;
- ``LifetimeEmpty``: a stack without a lambda-jobs backend (one plain SQS queue).

Synthesize with ``cdk synth --app "python -m tests.e2e.lifetime_app <project dir>"`` from the
repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_sqs as sqs
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue

LIFETIME_PROJECT = Path(__file__).resolve().parent / "lifetime_project"
STACK = "Lifetime"
EMPTY_STACK = "LifetimeEmpty"


def build_app(project: Path) -> App:
    app = App()
    stack = Stack(app, STACK)
    GoatJobBackend(
        stack,
        "Jobs",
        code=JobCode.from_directory(project, tasks=["lifetime_tasks"]),
        queues=[JobQueue("default", timeout=Duration.seconds(150))],
    )
    empty = Stack(app, EMPTY_STACK)
    queue = sqs.Queue(empty, "Plain", enforce_ssl=True)
    queue.apply_removal_policy(RemovalPolicy.DESTROY)
    return app


if __name__ == "__main__":
    build_app(Path(sys.argv[1]) if len(sys.argv) > 1 else LIFETIME_PROJECT).synth()
