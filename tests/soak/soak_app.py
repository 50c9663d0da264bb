"""The reliability suite's CDK app: the soak tasks on one Goat and one Lamb backend.

Synthesize with ``cdk synth --app "python -m tests.soak.soak_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue, LambJobBackend

SOAK_PROJECT = Path(__file__).resolve().parent / "soak_project"
STACKS = {"goat": "SoakGoat", "lamb": "SoakLamb"}
CONCURRENCY = 4


def _code() -> JobCode:
    return JobCode.from_directory(SOAK_PROJECT, tasks=["soak_tasks"])


def build_app() -> App:
    app = App()
    GoatJobBackend(
        Stack(app, STACKS["goat"]),
        "Jobs",
        code=_code(),
        timeout=Duration.seconds(30),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
    )
    LambJobBackend(
        Stack(app, STACKS["lamb"]),
        "Jobs",
        code=_code(),
        timeout=Duration.seconds(30),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
    )
    return app


if __name__ == "__main__":
    build_app().synth()
