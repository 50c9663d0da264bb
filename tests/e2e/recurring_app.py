"""A CDK app for the recurring-jobs end-to-end tests: both backends with four schedules each.

Per backend: ``tick`` (``rate(1 minute)``, succeeds), ``failing`` (``rate(5 minutes)``; the task
always fails, retries once), ``unknown`` (``rate(5 minutes)``, a task its module does not
register); Goat adds ``ordered-tick`` on a FIFO queue. The tests run ``lambda-jobs local`` with
``--schedule-clock-scale`` so these fire every few seconds. Synthesize with
``cdk synth --app "python -m tests.e2e.recurring_app"`` from the repository root.
"""

from __future__ import annotations

from aws_cdk import App, Stack
from lambda_jobs_cdk import GoatJobBackend, JobQueue, JobSchedule, LambJobBackend

from stacks.demo_code import demo_code

STACKS = {"goat": "GoatRecurring", "lamb": "LambRecurring"}
UNKNOWN_TASK = "demo_tasks.no_such_task"


def failure_message(backend: str) -> str:
    return f"{backend}: a scheduled failure"


def schedules(backend: str) -> list[JobSchedule]:
    return [
        JobSchedule(
            "tick", task="demo_tasks.tick", rate="1 minute", kwargs={"label": f"{backend} tick"}
        ),
        JobSchedule(
            "failing",
            task="demo_tasks.failing",
            rate="5 minutes",
            args=[failure_message(backend)],
        ),
        JobSchedule("unknown", task=UNKNOWN_TASK, rate="5 minutes"),
    ]


def build_app() -> App:
    app = App()
    goat = Stack(app, STACKS["goat"])
    GoatJobBackend(
        goat,
        "Jobs",
        code=demo_code(),
        queues=[JobQueue("default"), JobQueue("ordered", fifo=True)],
        schedules=[
            *schedules("goat"),
            JobSchedule(
                "ordered-tick",
                task="demo_tasks.tick",
                rate="2 minutes",
                queue_name="ordered",
                kwargs={"label": "goat fifo tick"},
            ),
        ],
    )
    lamb = Stack(app, STACKS["lamb"])
    LambJobBackend(lamb, "Jobs", code=demo_code(), schedules=schedules("lamb"))
    return app


if __name__ == "__main__":
    build_app().synth()
