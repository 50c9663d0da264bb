"""Tasks of the reliability suite: every run appends JSON lines to ``$LAMBDA_JOBS_SOAK_LOG``.

A line holds the job's key (its first argument), id, attempt, the process id and what the run did
(``started``, then ``succeeded`` or ``failed``), so a test can count executions per job (none lost,
at-least-once duplicates counted) and find the environment running a job to kill it.
"""

from __future__ import annotations

import json
import os
import time

from lambda_jobs import JobContext, task


def _record(context: JobContext, key: str, outcome: str, **extra: object) -> None:
    line = {
        **extra,
        "key": key,
        "job_id": context.job_id,
        "task": context.task_name,
        "attempt": context.attempt,
        "outcome": outcome,
        "pid": os.getpid(),
        "at": time.time(),
    }
    # One write of one short line in append mode: lines of concurrent environments never mix.
    with open(os.environ["LAMBDA_JOBS_SOAK_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


@task(takes_context=True)
def steady(context: JobContext, key: str) -> None:
    """Succeeds at once."""
    _record(context, key, "succeeded")


@task(takes_context=True, retries=2, retry_backoff=1, retry_jitter=False)
def flaky(context: JobContext, key: str) -> None:
    """Fails on its first attempt, succeeds on its second."""
    if context.attempt == 1:
        _record(context, key, "failed")
        raise RuntimeError(f"{key}: fails on its first attempt on purpose")
    _record(context, key, "succeeded")


@task(takes_context=True, retries=2, retry_backoff=3, retry_jitter=False)
def flaky_wait(context: JobContext, key: str) -> None:
    """Fails on its first attempt, succeeds on its second, 3 s later: a window in which copies of
    its first delivery arrive while it waits for its retry."""
    if context.attempt == 1:
        _record(context, key, "failed")
        raise RuntimeError(f"{key}: fails on its first attempt on purpose")
    _record(context, key, "succeeded")


@task(takes_context=True, retries=1, retry_backoff=1, retry_jitter=False)
def doomed(context: JobContext, key: str) -> None:
    """Fails on every attempt (two), so it ends in the dead-letter queue."""
    _record(context, key, "failed")
    raise RuntimeError(f"{key}: always fails on purpose")


@task(takes_context=True, retries=5, retry_backoff=1, retry_jitter=False, timeout=0.6)
def lingering(context: JobContext, key: str, seconds: float) -> None:
    """Runs ``seconds`` (a window to kill its environment in), then succeeds.

    Its 0.6 s ``timeout`` is what the handler needs left in the budget to start it, so a 2 s
    function runs a few of these per batch and hands the rest back.
    """
    _record(context, key, "started")
    time.sleep(seconds)
    _record(context, key, "succeeded")


@task(takes_context=True)
def crashing(context: JobContext, key: str) -> None:
    """Ends its process at once (``os._exit``, as a segfault or running out of memory would) on
    every attempt; ``retries=0``. Its whole batch comes back; it must end in the dead-letter queue
    as ``IncompleteAttempts`` and its neighbours must run."""
    _record(context, key, "started")
    os._exit(1)


@task(takes_context=True, retries=1, retry_backoff=1, retry_jitter=False)
def crashing_retried(context: JobContext, key: str) -> None:
    """``crashing`` with one retry: ends its process on both attempts, so it must reach the
    dead-letter queue as ``IncompleteAttempts`` after 2 attempts of its own."""
    _record(context, key, "started")
    os._exit(1)


@task(takes_context=True, retries=1, retry_backoff=1, retry_jitter=False)
def fails_once(context: JobContext, key: str) -> None:
    """Fails on its first *run* (whatever its attempt number), succeeds on the next: with one
    retry it succeeds unless an attempt was used up by something other than its own failure."""
    marker = f"{os.environ['LAMBDA_JOBS_SOAK_LOG']}.{key}.failed"
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        _record(context, key, "succeeded")
        return
    _record(context, key, "failed")
    raise RuntimeError(f"{key}: fails on its first run on purpose")


@task(takes_context=True, retries=2, retry_backoff=1, retry_jitter=False)
def overrunning(context: JobContext, key: str, seconds: float) -> None:
    """Runs ``seconds`` on its first attempt (past the function's deadline), then succeeds at once.

    It has no ``timeout`` of its own, so the handler cuts the first attempt at the invocation's
    budget (a ``JobTimeoutError``, a failed attempt) and hands back the records after it.
    """
    _record(context, key, "started")
    if context.attempt == 1:
        time.sleep(seconds)
    _record(context, key, "succeeded")


@task(takes_context=True)
async def steady_async(context: JobContext, key: str) -> None:
    """An ``async def`` task: awaits, then succeeds (the load test's async share)."""
    import asyncio

    await asyncio.sleep(0)
    _record(context, key, "succeeded")


@task(takes_context=True, retries=1, retry_backoff=1, retry_jitter=False)
def interrupted(context: JobContext, key: str) -> None:
    """Raises ``KeyboardInterrupt`` on every attempt (two): its job fails, its batch goes on."""
    _record(context, key, "failed")
    raise KeyboardInterrupt(f"{key}: interrupted on purpose")


@task(takes_context=True)
def member(context: JobContext, key: str, number: int) -> int:
    """A workflow group's member: returns ``number * number``."""
    _record(context, key, "succeeded")
    return number * number


@task(takes_context=True)
def joined(context: JobContext, values: list[int], key: str) -> int:
    """A chord's successor: records the members' results in the order it received them."""
    _record(context, key, "succeeded", values=values)
    return len(values)


@task(takes_context=True, retries=5, retry_backoff=1, retry_jitter=False, timeout=0.6)
def link(context: JobContext, value: int, key: str, seconds: float) -> int:
    """A chain's step: runs ``seconds`` (a window to kill its environment in), returns
    ``value + 1`` (the first step gets its ``value`` as an argument, later ones their
    predecessor's result)."""
    _record(context, key, "started", value=value)
    time.sleep(seconds)
    _record(context, key, "succeeded", value=value)
    return value + 1


@task(takes_context=True, retries=5, retry_backoff=1, retry_jitter=False, timeout=0.6)
def slow_member(context: JobContext, key: str, number: int, seconds: float) -> int:
    """A chord's member that runs ``seconds`` (a window to kill its environment in), then
    returns ``number * number``."""
    _record(context, key, "started")
    time.sleep(seconds)
    _record(context, key, "succeeded")
    return number * number
