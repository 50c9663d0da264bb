"""A Django task whose awaited work is cancelled (kept apart from ``tasks``: the handler tests
pin that module's task list)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from django.tasks import task


@task
async def cancelled_async(path: str) -> None:
    """The work it awaits is cancelled: Django's ImmediateBackend records that as FAILED."""
    work = asyncio.ensure_future(asyncio.sleep(30))
    asyncio.get_running_loop().call_later(0.01, work.cancel)
    Path(path).write_text("awaiting", encoding="utf-8")
    await work


@task(timeout=0.5)  # type: ignore[call-overload, untyped-decorator]
async def outlives_its_timeout(path: str) -> None:
    """Awaits far past its 0.5 s timeout; writes how it ended, so a test sees it was cancelled."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        Path(path).write_text("cancelled", encoding="utf-8")
        raise
    Path(path).write_text("slept", encoding="utf-8")
