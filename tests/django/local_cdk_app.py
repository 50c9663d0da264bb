"""A CDK app with one Goat backend whose image is the stand-alone Django project ``local_project``.

``synthesize(outdir)`` writes its cloud assembly, which ``lambda-jobs local --app <outdir>`` runs.
It is what a Django project's own CDK app looks like::

    GoatJobBackend(
        stack, "Jobs",
        code=JobCode.from_directory(".", tasks=["local_app.tasks"]),
        environment={"DJANGO_SETTINGS_MODULE": "local_site.settings"},
    )
"""

from __future__ import annotations

from pathlib import Path

LOCAL_PROJECT = Path(__file__).parent / "local_project"
STACK = "DjangoJobs"


def synthesize(outdir: Path) -> Path:
    from aws_cdk import App, Duration, Stack
    from lambda_jobs_cdk import GoatJobBackend, JobCode, JobStore

    app = App(outdir=str(outdir))
    stack = Stack(app, STACK)
    GoatJobBackend(
        stack,
        "Jobs",
        code=JobCode.from_directory(LOCAL_PROJECT, tasks=["local_app.tasks"]),
        environment={"DJANGO_SETTINGS_MODULE": "local_site.settings"},
        timeout=Duration.seconds(30),
        job_store=JobStore(),
    )
    app.synth()
    return outdir
