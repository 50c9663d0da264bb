"""A CDK app for the crash test: the demo tasks on a Goat queue with a 2 s function timeout.

The demo stacks use a 30 s timeout, so a batch lost with a crashed environment would come back
only after its 180 s visibility timeout; here it is 6 x 2 s = 12 s. Synthesize with
``cdk synth --app "python -m tests.e2e.crash_app"`` from the repository root.
"""

from __future__ import annotations

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobQueue, JobStore

from stacks.demo_code import demo_code

CRASH_STACK = "GoatCrash"


def build_app() -> App:
    app = App()
    stack = Stack(app, CRASH_STACK)
    GoatJobBackend(
        stack,
        "Jobs",
        code=demo_code(),
        queues=[JobQueue("default", timeout=Duration.seconds(2))],
        job_store=JobStore(),
        # Of a 2 s function the default 2 s margin leaves a job half the time (1 s), from which
        # the job store's claim comes too (slow on a loaded moto); keep 0.5 s back instead.
        environment={"LAMBDA_JOBS_DEADLINE_MARGIN_MS": "500"},
    )
    return app


if __name__ == "__main__":
    build_app().synth()
