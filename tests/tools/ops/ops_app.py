"""A CDK app for the operations tests under ``lambda-jobs local``: one Goat backend with a job store
(``OpsStore``) and one without (``OpsNoStore``), each with a ``default`` queue, a FIFO ``ordered``
queue (so a FIFO crash-net DLQ) and a recurring ``ops-tick`` schedule (``rate(1 minute)``,
deployed disabled: a test enables it).

Synthesize with ``cdk synth --app "python -m tests.tools.ops.ops_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue, JobSchedule, JobStore

OPS_PROJECT = Path(__file__).parent / "ops_project"
STACKS = {"store": "OpsStore", "nostore": "OpsNoStore"}


def build_app() -> App:
    app = App()
    for key, name in STACKS.items():
        stack = Stack(app, name)
        GoatJobBackend(
            stack,
            "Jobs",
            code=JobCode.from_directory(OPS_PROJECT, tasks=["ops_jobs"]),
            timeout=Duration.seconds(10),
            job_store=JobStore() if key == "store" else None,
            queues=[JobQueue("default"), JobQueue("ordered", fifo=True)],
            schedules=[
                JobSchedule("ops-tick", task="ops_jobs.tick", rate="1 minute", enabled=False)
            ],
        )
    return app


if __name__ == "__main__":
    build_app().synth()
