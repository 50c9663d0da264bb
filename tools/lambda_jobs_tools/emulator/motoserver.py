"""A ``moto_server`` child process on a free loopback port, stopped by its pid.

Used by the emulator and by the tests: both need real HTTP AWS endpoints without an AWS account.
The process is moto's own server with SQS's FIFO receive order put right
(:mod:`~lambda_jobs_tools.emulator.fifo_receive`: moto 5.2.5 reorders FIFO groups).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from types import TracebackType

from lambda_jobs_tools.emulator import reaper

#: The module the server runs: ``moto.server`` with SQS's FIFO receive (see the docstring).
FIFO_RECEIVE = "lambda_jobs_tools.emulator.fifo_receive"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (another process may take it
    before you bind it: :class:`MotoServer` does not use this)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: What moto's server (werkzeug) prints once its socket is bound: the port it got.
_RUNNING_ON = re.compile(r"Running on https?://[^\s:]+:(\d+)")
#: Lines of the server's stderr kept for an error message.
STDERR_TAIL_LINES = 20


class MotoStartError(RuntimeError):
    """``moto_server`` did not start; the message ends with what it said on stderr."""


class MotoServer:
    """A running ``moto_server``; use as a context manager or call :meth:`stop`.

    ``url`` is its endpoint (``http://127.0.0.1:<port>``); every AWS service moto knows answers
    there. The server binds the port itself (port 0: the kernel picks a free one) and says which
    on its stderr, so the endpoint is always this child's, never another server's that took a
    port between a check and the bind. A server that fails to start raises
    :class:`MotoStartError` with
    the end of its own stderr (an address in use, an import error). The process runs in its own
    process group so that stopping it stops its children too, and the group is killed if this
    process dies first (:mod:`~lambda_jobs_tools.emulator.reaper`).
    """

    def __init__(self, port: int | None = None, *, start_timeout: float = 30.0) -> None:
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", FIFO_RECEIVE, "-H", "127.0.0.1", "-p", str(port or 0)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        reaper.watch(self.process.pid)
        self.port = 0
        self.url = ""
        self._tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._bound = threading.Event()
        threading.Thread(target=self._read_stderr, name="moto-stderr", daemon=True).start()
        self._wait_ready(start_timeout)

    def _read_stderr(self) -> None:
        """Keep the end of the server's stderr (its request log, read so it never blocks)."""
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if not self._bound.is_set():
                match = _RUNNING_ON.search(line)
                if match is not None:
                    self.port = int(match.group(1))
                    self._bound.set()
                    continue
            self._tail.append(line)

    def _failure(self, what: str) -> MotoStartError:
        """Stop the server (if it still runs) and describe why it failed, in its own words."""
        self.stop()
        said = "\n".join(line for line in self._tail if line) or "(nothing on its stderr)"
        return MotoStartError(f"{what}; moto_server said:\n{said}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._bound.wait(0.05):
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the reader take the last lines
                raise self._failure(f"moto_server exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                raise self._failure(f"moto_server did not bind a port within {timeout:g} s")
        self.url = f"http://127.0.0.1:{self.port}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                time.sleep(0.1)
                raise self._failure(f"moto_server exited with code {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise self._failure(f"moto_server did not answer on {self.url} within {timeout:g} s")

    def reset(self) -> None:
        """Drop every resource moto holds (fast isolation between tests)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        """Stop the server and its process group; safe to call twice."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        reaper.forget(self.process.pid)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
