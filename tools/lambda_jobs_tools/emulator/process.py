"""Run ``lambda-jobs local`` as a child process and read its client configurations.

For scripts and tests that drive the emulator from outside, as an app would: the demo driver and
the end-to-end tests. :class:`EmulatorProcess` starts the command, waits until it is ready, and
exposes each backend's ``LAMBDA_JOBS_CONFIG`` value (``configs["goat"]``, ``configs["lamb"]``).
Its stderr (the job log and the functions' output) goes to ``log_path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

CONFIG_PREFIX = "LAMBDA_JOBS_CONFIG="
READY_MARKER = "lambda-jobs local: ready"


class EmulatorProcess:
    """A running ``lambda-jobs local``; a context manager that stops it (SIGTERM) on exit."""

    def __init__(
        self,
        app: Path,
        *,
        log_path: Path,
        extra_args: Sequence[str] = (),
        start_timeout: float = 90.0,
    ) -> None:
        self.log_path = log_path
        self.configs: dict[str, str] = {}
        """Backend (``goat``/``lamb``) -> the ``LAMBDA_JOBS_CONFIG`` value it printed."""
        self.stdout_lines: list[str] = []
        """Every line the emulator printed on stdout, in order."""
        self._log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lambda_jobs_tools.cli",
                "local",
                "--app",
                str(app),
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._ready = threading.Event()
        self._expected = -1
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.monotonic() + start_timeout
        while not (self._ready.wait(0.1) and len(self.configs) >= self._expected):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log_path.read_text(encoding="utf-8")[-2000:]
                raise RuntimeError(f"lambda-jobs local did not become ready:\n{tail}")

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            if line.startswith(CONFIG_PREFIX):
                value = line[len(CONFIG_PREFIX) :].strip()
                self.configs[json.loads(value)["backend"]] = value

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._log.write(line)
            self._log.flush()
            if line.startswith(READY_MARKER):
                # "ready (N backend(s))": the N config lines are on stdout already.
                count = line[len(READY_MARKER) :].strip().lstrip("(").split(" ")[0]
                self._expected = int(count) if count.isdigit() else 0
                self._ready.set()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the emulator and wait for it to exit; returns its exit status."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log.close()
