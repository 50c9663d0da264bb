"""The CDK app of the FIFO end-to-end tests (issue 27): a Goat FIFO queue ``ordered``.

- ``FifoGoat``: ``JobQueue("ordered", fifo=True, timeout=10 s)``, so a 60 s visibility timeout.
- ``FifoHandback``: the same queue, with a deadline margin that leaves less than the 1 s a job
  needs after the first of a batch: every invocation runs one job and hands the rest back.

Synthesize with ``cdk synth --app "python -m tests.e2e.fifo_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue

FIFO_PROJECT = Path(__file__).resolve().parent / "fifo_project"
TIMEOUT_S = 10
VISIBILITY_S = 6 * TIMEOUT_S
#: Budget = remaining time - margin: about 0.3 s, less than a job without a timeout needs (1 s).
HANDBACK_MARGIN_MS = TIMEOUT_S * 1000 - 300
STACKS = {"failure": "FifoGoat", "handback": "FifoHandback"}


def build_app() -> App:
    app = App()
    code = JobCode.from_directory(FIFO_PROJECT, tasks=["fifo_tasks"])
    for setting, name in STACKS.items():
        environment = {}
        if setting == "handback":
            environment["LAMBDA_JOBS_DEADLINE_MARGIN_MS"] = str(HANDBACK_MARGIN_MS)
        GoatJobBackend(
            Stack(app, name),
            "Jobs",
            code=code,
            queues=[JobQueue("ordered", fifo=True, timeout=Duration.seconds(TIMEOUT_S))],
            environment=environment,
        )
    return app


if __name__ == "__main__":
    build_app().synth()
