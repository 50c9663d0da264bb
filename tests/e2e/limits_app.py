"""The CDK app of the flow-control end-to-end tests (issue 20): both backends with a job store.

- ``LimitsGoat``: a Goat backend (queue ``default``, batches of 2) running
  :mod:`tests.e2e.limits_project.limits_tasks`;
- ``LimitsLamb``: a Lamb backend running the same tasks.

Synthesize with ``cdk synth --app "python -m tests.e2e.limits_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue, JobStore, LambJobBackend

LIMITS_PROJECT = Path(__file__).resolve().parent / "limits_project"
STACKS = {"goat": "LimitsGoat", "lamb": "LimitsLamb"}


def build_app() -> App:
    app = App()
    code = JobCode.from_directory(LIMITS_PROJECT, tasks=["limits_tasks"])
    GoatJobBackend(
        Stack(app, STACKS["goat"]),
        "Jobs",
        code=code,
        queues=[JobQueue("default", timeout=Duration.seconds(20), batch_size=2)],
        job_store=JobStore(),
    )
    LambJobBackend(
        Stack(app, STACKS["lamb"]),
        "Jobs",
        code=code,
        timeout=Duration.seconds(20),
        job_store=JobStore(),
    )
    return app


if __name__ == "__main__":
    build_app().synth()
