"""The CDK app of the recursive-loop, hand-back, tenant and 1 MiB end-to-end tests.

- ``LoopGoatAllow`` / ``LoopGoatTerminate``, ``LoopLambAllow`` / ``LoopLambTerminate``: the loop
  tasks with the backend's ``recursive_loop`` default (``ALLOW``) and ``TERMINATE``. The functions
  read the backend's own client configuration from SSM (``LAMBDA_JOBS_CONFIG=ssm:<name>``), and
  their role is given ``grant_enqueue``, so a task can enqueue its follow-up.
- ``HandbackGoat``: ``TERMINATE``, and a deadline margin that leaves less than the 1 s a job needs
  after the first of a batch: every invocation runs one job and hands the rest back.

Synthesize with ``cdk synth --app "python -m tests.e2e.loop_app"`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from lambda_jobs_cdk import GoatJobBackend, JobCode, JobQueue, LambJobBackend

LOOP_PROJECT = Path(__file__).resolve().parent / "loop_project"
HANDBACK_TIMEOUT_S = 10
#: Budget = remaining time - margin: about 0.3 s, less than a job without a timeout needs (1 s).
HANDBACK_MARGIN_MS = HANDBACK_TIMEOUT_S * 1000 - 300
STACKS = {
    ("goat", "allow"): "LoopGoatAllow",
    ("goat", "terminate"): "LoopGoatTerminate",
    ("lamb", "allow"): "LoopLambAllow",
    ("lamb", "terminate"): "LoopLambTerminate",
    ("goat", "handback"): "HandbackGoat",
}


def parameter_name(stack: str) -> str:
    return f"/lambda-jobs-tests/{stack}/client-config"


def build_app() -> App:
    app = App()
    code = JobCode.from_directory(LOOP_PROJECT, tasks=["loop_tasks"])
    for (backend, setting), name in STACKS.items():
        environment = {"LAMBDA_JOBS_CONFIG": f"ssm:{parameter_name(name)}"}
        queues = None
        if setting == "handback":
            environment["LAMBDA_JOBS_DEADLINE_MARGIN_MS"] = str(HANDBACK_MARGIN_MS)
            queues = [JobQueue("default", max_concurrency=2)]
        cls = GoatJobBackend if backend == "goat" else LambJobBackend
        jobs = cls(
            Stack(app, name),
            "Jobs",
            code=code,
            queues=queues,
            timeout=Duration.seconds(HANDBACK_TIMEOUT_S if setting == "handback" else 30),
            environment=environment,
            parameter_name=parameter_name(name),
            recursive_loop=(
                lambda_.RecursiveLoop.ALLOW
                if setting == "allow"
                else lambda_.RecursiveLoop.TERMINATE
            ),
        )
        # A task that enqueues its follow-up sends as the function's role (IAM is judged).
        jobs.grant_enqueue(jobs.role)
    return app


if __name__ == "__main__":
    build_app().synth()
