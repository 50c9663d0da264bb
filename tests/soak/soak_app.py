"""The reliability suite's CDK app: the soak tasks on Goat and Lamb backends.

- ``SoakGoat`` / ``SoakLamb``: the load tests' backends (30 s function timeout, concurrency 4).
- ``SoakGoatShort``: a Goat queue with a 2 s function timeout, for the fault tests. A batch lost
  with a killed environment comes back after the 6 x 2 s = 12 s visibility timeout (not 180 s),
  and a batch of 10 jobs cannot finish inside one invocation, so the handler hands records back.
- ``SoakLambStore``: a Lamb backend that always has a job store, for the duplicate deliveries of
  jobs waiting for a retry (``test_duplicates``).
- ``SoakGoatShortStore``: ``SoakGoatShort`` with a job store, always (how a crash counts there).
- ``SoakGoatStore``: ``SoakGoat`` with a job store, always (workflows under faults: a step's
  bookkeeping waits through botocore's retries, longer than the short function's 2 s).

With ``SOAK_JOB_STORE=1`` every backend has a job store. Synthesize with
``cdk synth --app "python -m tests.soak.soak_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue, JobStore, LambJobBackend

from tests.soak.sizes import JOB_STORE

SOAK_PROJECT = Path(__file__).resolve().parent / "soak_project"
STACKS = {
    "goat": "SoakGoat",
    "lamb": "SoakLamb",
    "goat-short": "SoakGoatShort",
    "lamb-store": "SoakLambStore",
    "goat-short-store": "SoakGoatShortStore",
    "goat-store": "SoakGoatStore",
}
CONCURRENCY = 4
SHORT_TIMEOUT_S = 2


def _code(store: bool) -> JobCode:
    """The soak tasks; with a job store also those under limits (which need one)."""
    tasks = ["soak_tasks", "soak_limited_tasks"] if store else ["soak_tasks"]
    return JobCode.from_directory(SOAK_PROJECT, tasks=tasks)


def build_app() -> App:
    app = App()
    store = JobStore() if JOB_STORE else None
    GoatJobBackend(
        Stack(app, STACKS["goat"]),
        "Jobs",
        code=_code(store is not None),
        timeout=Duration.seconds(30),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
        job_store=store,
    )
    LambJobBackend(
        Stack(app, STACKS["lamb"]),
        "Jobs",
        code=_code(store is not None),
        timeout=Duration.seconds(30),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
        job_store=store,
    )
    GoatJobBackend(
        Stack(app, STACKS["goat-short"]),
        "Jobs",
        code=_code(store is not None),
        timeout=Duration.seconds(SHORT_TIMEOUT_S),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
        job_store=store,
    )
    LambJobBackend(
        Stack(app, STACKS["lamb-store"]),
        "Jobs",
        code=_code(True),
        timeout=Duration.seconds(30),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
        job_store=JobStore(),
    )
    GoatJobBackend(  # the same with a job store whatever SOAK_JOB_STORE says (crash counting)
        Stack(app, STACKS["goat-short-store"]),
        "Jobs",
        code=_code(True),
        timeout=Duration.seconds(SHORT_TIMEOUT_S),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
        job_store=JobStore(),
    )
    GoatJobBackend(  # workflows need a job store whatever SOAK_JOB_STORE says
        Stack(app, STACKS["goat-store"]),
        "Jobs",
        code=_code(True),
        timeout=Duration.seconds(30),
        queues=[JobQueue("default", max_concurrency=CONCURRENCY)],
        job_store=JobStore(),
    )
    return app


if __name__ == "__main__":
    build_app().synth()
