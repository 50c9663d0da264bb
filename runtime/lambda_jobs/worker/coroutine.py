"""Run an ``async def`` task's coroutine to completion: one new event loop per job.

:func:`~lambda_jobs.worker.runner.run_attempt` hands over what a task function returned when it is
a coroutine; :func:`run_coroutine` drives it on a fresh loop and
returns the awaited value or raises what the coroutine raised, as a plain function would. The
loop lives as long as the job, like :func:`asyncio.run`: when the job ends, tasks it left running
are cancelled and awaited, async generators are closed, the default executor is shut down and the
loop is closed. So nothing a job started runs on in a neighbour's time, and no state is shared
between jobs. The price is a loop's creation and teardown per job: about 45 µs a record here,
where keeping one loop for the invocation would cost about 10 (``benchmarks/bench_per_record.py``;
docs/internals/performance.md), small beside any job that awaits real I/O.

The attempt's :class:`~lambda_jobs.worker.timelimit.TimeLimit` stops a coroutine too. Its first
alarm cancels the coroutine where it awaits (``CancelledError`` there, so ``finally`` blocks and
``async with`` exits run; its one argument is the :class:`~lambda_jobs.errors.JobTimeoutError`,
so code between the task and this runner can tell the time limit from a cancellation the task
met in its own work), and the attempt fails with
:class:`~lambda_jobs.errors.JobTimeoutError`; a coroutine that blocks the loop or ignores the
cancellation gets the usual ``JobTimeoutError`` from the next alarm. Where signals cannot reach the
job (not the main thread, or an outer timer fires first) the loop cancels it at the limit itself.
Called from a thread where a loop is already running (``inline`` from async code), the job's loop
runs in a thread of its own, and the caller's thread waits for it.

``asyncio`` is imported on the first coroutine only: the handler's cold start does not load it.
"""

from __future__ import annotations

from lambda_jobs.errors import JobTimeoutError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine
    from typing import Any

    from lambda_jobs.worker.timelimit import TimeLimit


def not_run(task_name: str, value: object) -> TypeError:
    """The error of an attempt whose function returned a generator or an async generator."""
    return TypeError(
        f"task {task_name} returned a {type(value).__name__} object, so its body never ran: "
        "a task must be a plain function or an async def function that returns its result"
    )


def run_coroutine(coroutine: Coroutine[Any, Any, Any], limit: TimeLimit) -> Any:
    """Await ``coroutine`` on a new event loop under ``limit``; its value, or its exception.

    ``limit`` is already entered (the caller's ``with``); this only arranges how it stops the
    coroutine (see the module docstring).
    """
    import asyncio

    if asyncio._get_running_loop() is None:
        return _run_on_new_loop(coroutine, limit)
    import threading

    outcome: list[Any] = []

    def in_thread() -> None:
        try:
            outcome.append((True, _run_on_new_loop(coroutine, limit)))
        except BaseException as error:
            outcome.append((False, error))

    thread = threading.Thread(target=in_thread, name="lambda-jobs-coroutine", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _run_on_new_loop(coroutine: Coroutine[Any, Any, Any], limit: TimeLimit) -> Any:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        job = loop.create_task(coroutine)

        def cancel() -> None:
            # From the SIGALRM handler (in the main thread, which may not be the loop's), possibly
            # while the loop waits in ``select``: thread-safe, and it wakes the loop.
            loop.call_soon_threadsafe(job.cancel, JobTimeoutError(limit.message))

        if limit.enforced:
            limit.interrupt = cancel
        elif limit.seconds is not None:  # signals cannot reach the job: the loop keeps the time
            loop.call_later(max(limit.seconds, 0.0), _fire, limit, job)
        try:
            return loop.run_until_complete(job)
        except asyncio.CancelledError:
            if limit.fired:  # our cancellation, not one the task met in its own work
                raise JobTimeoutError(limit.message) from None
            raise
        finally:
            limit.interrupt = None
            _shut_down(loop)
    finally:
        loop.close()


def _fire(limit: TimeLimit, job: asyncio.Task[Any]) -> None:
    limit.fired = True
    job.cancel(JobTimeoutError(limit.message))


def _shut_down(loop: asyncio.AbstractEventLoop) -> None:
    """What :func:`asyncio.run` does before closing its loop: leftover tasks cancelled and awaited,
    async generators closed, the default executor shut down. Errors of leftovers are dropped (the
    job's outcome is already decided); a timeout alarm during this stops it, the loop is closed."""
    import asyncio

    try:
        leftovers = asyncio.all_tasks(loop)
        for leftover in leftovers:
            leftover.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        # Each step is a turn of the loop: skipped when the job left nothing for it (the
        # attributes are CPython's ``BaseEventLoop``'s; elsewhere both steps always run).
        if getattr(loop, "_asyncgens", True):
            loop.run_until_complete(loop.shutdown_asyncgens())
        if getattr(loop, "_default_executor", True) is not None:
            loop.run_until_complete(loop.shutdown_default_executor())
    except (Exception, asyncio.CancelledError):
        pass
