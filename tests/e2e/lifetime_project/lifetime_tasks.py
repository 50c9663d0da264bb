"""Tasks of the emulator-lifetime tests: one that starts a process of its own and waits."""

from __future__ import annotations

import os
import subprocess
import time

from lambda_jobs import task


@task(timeout=120)
def spawn(pid_file: str, seconds: float = 120) -> None:
    """Start ``sleep`` (a task's own subprocess), write its pid to ``pid_file``, then wait."""
    child = subprocess.Popen(["sleep", "600"])
    with open(pid_file + ".tmp", "w", encoding="utf-8") as out:
        out.write(str(child.pid))
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(seconds)


@task
def hello(name: str = "world") -> str:
    return f"Hello, {name}!"
