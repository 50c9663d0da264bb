"""Tasks of the runner tests: ``async def`` tasks and tasks raising a ``BaseException``.

``LAMBDA_JOBS_TASKS=tests.runtime.sample_tasks,tests.runtime.runner_tasks`` makes them runnable.
Each leaves its trace in the file the test names.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lambda_jobs import task


@task
async def write_later(path: str, text: str) -> str:
    """Awaits, then writes ``text`` to ``path`` and returns it."""
    await asyncio.sleep(0.01)
    Path(path).write_text(text, encoding="utf-8")
    return text


@task(retries=1, retry_backoff=1, retry_jitter=False)
async def fail_later(path: str) -> None:
    """Awaits, then raises: a failure like a plain function's."""
    await asyncio.sleep(0)
    with Path(path).open("a", encoding="utf-8") as file:
        file.write("run\n")
    raise ValueError(f"async failure of {Path(path).name}")


@task(timeout=0.3)
async def stuck(path: str) -> None:
    """Awaits far past its 0.3 s timeout; its ``finally`` records that the cancellation ran it."""
    Path(path).write_text("started\n", encoding="utf-8")
    try:
        await asyncio.sleep(30)
    finally:
        with Path(path).open("a", encoding="utf-8") as file:
            file.write("finally\n")


@task
async def cancelled_inside(path: str) -> None:
    """The work it awaits is cancelled (not by the runtime): ``CancelledError`` is its failure."""
    work = asyncio.ensure_future(asyncio.sleep(30))
    asyncio.get_running_loop().call_later(0.01, work.cancel)
    Path(path).write_text("awaiting\n", encoding="utf-8")
    await work


@task(retries=1, retry_backoff=1, retry_jitter=False)
def interrupt(path: str) -> None:
    """Raises ``KeyboardInterrupt`` (a ``BaseException``): its job fails, the batch goes on."""
    with Path(path).open("a", encoding="utf-8") as file:
        file.write("run\n")
    raise KeyboardInterrupt(f"interrupted {Path(path).name}")


class OwnStop(BaseException):
    """A library's own ``BaseException`` (some cancellations and timeouts are built so)."""


#: What :func:`raise_base` raises, by name: every one a ``BaseException`` that is not an
#: ``Exception``.
BASE_EXCEPTIONS: dict[str, type[BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "SystemExit": SystemExit,
    "GeneratorExit": GeneratorExit,
    "asyncio.exceptions.CancelledError": asyncio.CancelledError,
    "tests.runtime.runner_tasks.OwnStop": OwnStop,
}


@task
def raise_base(kind: str) -> None:
    """Raises the ``BaseException`` named ``kind`` (no retries: dead-lettered at once)."""
    raise BASE_EXCEPTIONS[kind](f"{kind} raised by a task")


@task
async def raise_base_async(kind: str) -> None:
    """The same from a coroutine, after an await."""
    await asyncio.sleep(0)
    raise BASE_EXCEPTIONS[kind](f"{kind} raised by a task")


@task
async def await_unbounded(path: str) -> None:
    """Awaits 30 s with no timeout of its own: only the function's deadline stops it."""
    Path(path).write_text("started\n", encoding="utf-8")
    await asyncio.sleep(30)
