"""The demo's tasks: one of each outcome a job can have.

Each task appends one JSON line per run to the file named by ``LAMBDA_JOBS_DEMO_LOG`` when that
variable is set (the local demo and the end-to-end tests read it); in AWS it is unset and the
tasks only print.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from lambda_jobs import JobContext, task

FLAKY_SUCCEEDS_ON_ATTEMPT = 3


def record(task_name: str, event: str, **fields: Any) -> None:
    """Append ``{"task", "event", ...fields, "pid", "at"}`` to ``$LAMBDA_JOBS_DEMO_LOG`` if set."""
    path = os.environ.get("LAMBDA_JOBS_DEMO_LOG")
    if not path:
        return
    line = {"task": task_name, "event": event, **fields, "pid": os.getpid(), "at": time.time()}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(line, sort_keys=True) + "\n")


@task
def hello(name: str = "world") -> str:
    """Succeeds at once with a greeting."""
    greeting = f"Hello, {name}!"
    print(greeting)
    record("hello", "succeeded", greeting=greeting)
    return greeting


@task(timeout=5)
async def hello_later(name: str = "world", delay: float = 0.05) -> str:
    """An ``async def`` task: awaited to completion like any other, its return value the result."""
    await asyncio.sleep(delay)
    greeting = f"Hello later, {name}!"
    record("hello_later", "succeeded", greeting=greeting)
    return greeting


@task(timeout=2, retries=1, retry_backoff=1)
def slow(seconds: float = 10) -> None:
    """Sleeps past its 2 s timeout: stopped twice (first run and one retry), then dead-lettered."""
    record("slow", "started", seconds=seconds)
    time.sleep(seconds)
    record("slow", "finished", seconds=seconds)


@task(takes_context=True, retries=3, retry_backoff=1, retry_backoff_max=2)
def flaky(context: JobContext, succeed_on_attempt: int = FLAKY_SUCCEEDS_ON_ATTEMPT) -> int:
    """Fails until attempt ``succeed_on_attempt`` (default 3), then succeeds: retries at work."""
    if context.attempt < succeed_on_attempt:
        record("flaky", "failed", attempt=context.attempt)
        raise RuntimeError(f"flaky: attempt {context.attempt} fails on purpose")
    record("flaky", "succeeded", attempt=context.attempt)
    return context.attempt


@task(retries=1, retry_backoff=1)
def failing(message: str = "this task always fails") -> None:
    """Always raises: after one retry the job lands in the dead-letter queue with its error."""
    record("failing", "failed", message=message)
    raise RuntimeError(message)


@task(takes_context=True)
def tick(context: JobContext, label: str = "tick") -> str:
    """Run by the demo stacks' recurring schedules: records which firing of which schedule it is."""
    scheduled = context.scheduled_time.isoformat() if context.scheduled_time else None
    record(
        "tick",
        "succeeded",
        label=label,
        schedule=context.schedule_name,
        scheduled_time=scheduled,
        job_id=context.job_id,
        attempt=context.attempt,
    )
    return f"{label} {scheduled}"


@task
def add(value: int, amount: int, tag: str = "") -> int:
    """A workflow step: returns ``value + amount`` (``value`` is the step before's result)."""
    record("add", "succeeded", value=value, amount=amount, tag=tag)
    return value + amount


@task
def square(number: int, tag: str = "") -> int:
    """A group member: returns ``number * number``."""
    record("square", "succeeded", number=number, tag=tag)
    return number * number


@task
def collect(values: list[Any], tag: str = "") -> int:
    """A chord's successor: records the members' results in the order it got them."""
    record("collect", "succeeded", values=values, tag=tag)
    return sum(v for v in values if isinstance(v, int))  # a tolerated failure is a marker
