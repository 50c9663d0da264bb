"""The emulator's child processes end with it, however it ends.

Every process the emulator starts (the moto server, each awslambdaric execution environment) runs
in a process group of its own (``start_new_session``), which a task's own subprocesses share; a
clean stop (SIGINT, SIGTERM, SIGHUP) kills each group. For an emulator that dies without stopping
(SIGKILL, a crash), a watchdog process holds the read end of a pipe whose write end only the
emulator holds: the kernel closes a dead process's descriptors, so end-of-file on the pipe is the
emulator's death whatever its cause, and the watchdog then kills every group still registered.

Why not ``prctl(PR_SET_PDEATHSIG)``: it must be set in the child between fork and exec
(``preexec_fn``), which Python documents as unsafe in a process with threads (the emulator runs
many), and it reaches only the direct child, not a task's subprocess. The pipe works on any POSIX
system. The watchdog runs in its own session, so a terminal's SIGINT or SIGHUP does not end it
before it has done its work; it exits at end-of-file.

:func:`watch` registers a group (its leader's pid), :func:`forget` drops it once stopped (so a
recycled pid is never signalled). The watchdog starts with the first :func:`watch`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading


class _Watchdog:
    def __init__(self) -> None:
        read_end, self._write_end = os.pipe()  # both non-inheritable (PEP 446)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        self._lock = threading.Lock()

    def send(self, line: str) -> None:
        # OSError: the watchdog is gone; a clean stop still kills every group itself.
        with self._lock, contextlib.suppress(OSError):
            os.write(self._write_end, line.encode())


_watchdog: _Watchdog | None = None
_lock = threading.Lock()


def _get() -> _Watchdog:
    global _watchdog
    with _lock:
        if _watchdog is None or _watchdog.process.poll() is not None:
            _watchdog = _Watchdog()
        return _watchdog


def watch(pgid: int) -> None:
    """Kill process group ``pgid`` if this process dies before :func:`forget` is called."""
    _get().send(f"+{pgid}\n")


def forget(pgid: int) -> None:
    """The group ``pgid`` has been stopped: never signal it."""
    if _watchdog is not None:
        _watchdog.send(f"-{pgid}\n")


def watchdog_pid() -> int | None:
    """The watchdog's pid while it runs (tests check that it ends too)."""
    return _watchdog.process.pid if _watchdog is not None else None


def _main() -> None:
    """The watchdog: read ``+pgid`` / ``-pgid`` lines until end-of-file, then kill what is left."""
    groups: set[int] = set()
    for line in sys.stdin.buffer:
        text = line.strip().decode()
        if len(text) > 1 and text[1:].isdigit():
            (groups.add if text[0] == "+" else groups.discard)(int(text[1:]))
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            continue


if __name__ == "__main__":
    _main()
