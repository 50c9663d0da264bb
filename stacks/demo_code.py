"""What both demo stacks share: the job image (``stacks/demo_project``), the ``default`` queue and
the shape of their recurring schedule."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from lambda_jobs_cdk import JobCode, JobQueue, JobSchedule, PriorityLane
from lambda_jobs_cdk.job_backend import JobBackend

from constructs import Construct

DEMO_PROJECT = Path(__file__).parent / "demo_project"
DEMO_TASKS = ("demo_tasks",)


def demo_code() -> JobCode:
    """The demo project staged as an image build context (ARM64)."""
    return JobCode.from_directory(DEMO_PROJECT, tasks=DEMO_TASKS)


def demo_default_queue() -> JobQueue:
    """``default`` with two lanes: priorities 50..100 get more workers than the rest."""
    return JobQueue(
        "default",
        lanes=[
            PriorityLane(min_priority=-100, max_priority=49, max_concurrency=2),
            PriorityLane(min_priority=50, max_priority=100, max_concurrency=5),
        ],
    )


def demo_schedule(backend: str, **when: str) -> JobSchedule:
    """``<backend>-tick``: ``demo_tasks.tick`` on the ``default`` queue at every firing of ``when``
    (``cron=...`` or ``rate=...``, and optionally ``timezone=...``)."""
    return JobSchedule(
        f"{backend}-tick",
        task="demo_tasks.tick",
        kwargs={"label": f"{backend} schedule"},
        description=f"lambda-jobs demo: a recurring job on the {backend} backend",
        **when,  # type: ignore[arg-type]
    )


def demo_principals(scope: Construct, jobs: JobBackend) -> tuple[iam.Role, iam.Role]:
    """The demo's web app role (``AppRole``: ``grant_enqueue``) and operator role
    (``OperatorRole``: ``grant_operate``), assumable by the account's principals.

    ``lambda-jobs local`` judges a caller signing with ``AppRole`` or ``OperatorRole`` as access
    key as that role (see docs/guide/local.md, "IAM in the emulator").
    """
    app = iam.Role(scope, "AppRole", assumed_by=iam.AccountRootPrincipal())
    jobs.grant_enqueue(app)
    operator = iam.Role(scope, "OperatorRole", assumed_by=iam.AccountRootPrincipal())
    jobs.grant_operate(operator)
    return app, operator
