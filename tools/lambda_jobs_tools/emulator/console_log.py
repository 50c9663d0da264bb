"""The emulator's log of jobs and invocations: one line per event, on stderr.

stdout is kept for the ``LAMBDA_JOBS_CONFIG=...`` lines an app or script reads. A job is named by
its envelope's id and task; arguments are never logged (they may hold personal data).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO


def describe_job(body: str | bytes) -> str:
    """``<task> <job id>`` from an envelope or scheduler delivery; ``?`` for anything else."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "(not JSON)"
    if isinstance(data, dict) and isinstance(data.get("job"), dict):
        data = data["job"]
    if not isinstance(data, dict):
        return "(not an envelope)"
    attempt = data.get("attempt")
    suffix = f" attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
    return f"{data.get('task', '?')} {str(data.get('id', '?'))[:8]}{suffix}"


class JobLog:
    """Thread-safe line writer; ``quiet`` drops everything (tests that read their own files)."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._lock = threading.Lock()

    def __call__(self, source: str, message: str) -> None:
        if self._quiet:
            return
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self._stream.write(f"{stamp} [{source}] {message}\n")
            self._stream.flush()

    def function_output(self, function: str, line: str) -> None:
        """A line the function printed (its CloudWatch log, locally)."""
        self(function, line)
