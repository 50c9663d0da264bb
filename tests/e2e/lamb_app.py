"""The CDK app of the Lamb duplicate, size and remaining-time end-to-end tests.

``LambStore``: the Lamb tasks of :mod:`tests.e2e.lamb_project.lamb_tasks` on a Lamb backend with a
job store and a 10 s function timeout (so ``JobContext.remaining_seconds()`` of a task without a
timeout is about 10 s less the 2 s deadline margin). Synthesize with
``cdk synth --app "python -m tests.e2e.lamb_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import JobCode, JobStore, LambJobBackend

LAMB_PROJECT = Path(__file__).resolve().parent / "lamb_project"
LAMB_STACK = "LambStore"
FUNCTION_TIMEOUT_S = 10


def build_app() -> App:
    app = App()
    LambJobBackend(
        Stack(app, LAMB_STACK),
        "Jobs",
        code=JobCode.from_directory(LAMB_PROJECT, tasks=["lamb_tasks"]),
        timeout=Duration.seconds(FUNCTION_TIMEOUT_S),
        job_store=JobStore(),
    )
    return app


if __name__ == "__main__":
    build_app().synth()
