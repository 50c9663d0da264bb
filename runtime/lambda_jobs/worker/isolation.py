"""Run one job alone, in a forked child process, so that a crash of its own is seen and counted.

Why (Goat without the job store, :mod:`lambda_jobs.worker.goat`): a job that kills the function's
process (``os._exit``, a segfault, running out of memory) fails the whole invocation, and every
record of its batch comes back with its SQS ``ApproximateReceiveCount`` one higher — the one that
crashed, the ones that finished before it and the ones that never started alike ("Handling errors
for an SQS event source in Lambda"). The receive count cannot tell them apart, and nothing else
that SQS keeps survives the crash. So a record that comes back (receive count above 1) is run here,
alone: the one that crashed crashes again, in the child, where the handler sees it and counts it
against that job only; the others run.

:func:`run_alone` forks; the child runs ``work`` (the record's whole handling: its attempt, its
log line and metrics, its retry or dead letter) and reports through a pipe whether the record is
settled (True or False) or a short text (Goat: the retry copy the parent is to send). The parent
waits at most ``seconds``, then kills the child. Returns the child's answer, or None and how the
child ended when it died without one (exit code, signal, killed at the time limit). The child dies
with the parent (``PR_SET_PDEATHSIG``, Linux), so a child never outlives a killed execution
environment. Only a record that came back pays for a fork (a few milliseconds); the child's
module-level state (caches a task filled) is not kept.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable

#: Exit status of a child whose ``work`` raised (a bug in the handler: it never should).
WORK_RAISED = 70
_PR_SET_PDEATHSIG = 1


def run_alone(
    work: Callable[[], bool | str], seconds: float | None
) -> tuple[bool | str | None, str]:
    """``(work's result, "")`` from a child process, or ``(None, how it died)``.

    Raises OSError when the process cannot fork (the caller then runs ``work`` itself).
    """
    from lambda_jobs.worker import joblog

    joblog.flush()  # lines held so far are the parent's: the child must not write them again
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        raise
    if pid == 0:  # the child: never returns
        os.close(read)
        _child(work, write, parent)
    os.close(write)
    return _wait(pid, read, seconds)


def _child(work: Callable[[], bool | str], write: int, parent: int) -> None:
    status = 0
    try:
        _die_with(parent)
        from lambda_jobs import aws
        from lambda_jobs.worker import joblog, metrics

        aws.reset()  # own connections: a socket shared with the parent could be left mid-request
        counting = metrics.collecting()
        if counting:
            metrics.begin()  # only this job: the parent writes what it collected itself
        joblog.begin()
        try:
            answer = work()
        finally:
            joblog.end(metrics.close() if counting else "")
        data = b"s" + answer.encode() if isinstance(answer, str) else b"1" if answer else b"0"
        data += b"\n"  # the end of the answer (a process the task forked may hold the pipe open)
        while data:
            data = data[os.write(write, data) :]
    except BaseException:
        status = WORK_RAISED
    finally:
        os._exit(status)


def _die_with(parent: int) -> None:
    """Have the kernel kill this child when its parent dies (Linux); exit if it already has."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # not Linux: a child outliving its parent only duplicates a job
        pass
    if os.getppid() != parent:
        os._exit(0)


def _wait(pid: int, read: int, seconds: float | None) -> tuple[bool | str | None, str]:
    import select
    import signal
    import time

    deadline = None if seconds is None else time.monotonic() + max(seconds, 0.0)
    answer = b""
    killed = False
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            ready, _, _ = select.select([read], [], [], left)
            if ready:
                chunk = os.read(read, 4096)
                answer += chunk
                if not chunk or answer.endswith(b"\n"):  # answered, or died without answering
                    break
    finally:
        os.close(read)
    _, status = os.waitpid(pid, 0)
    if answer in (b"0\n", b"1\n"):
        return answer == b"1\n", ""
    if answer.startswith(b"s") and answer.endswith(b"\n"):
        return answer[1:-1].decode(), ""
    if killed:
        return None, f"killed after {seconds:.1f} s, at the function's deadline"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return None, f"killed by signal {number} ({name})"
    return None, f"exit code {os.waitstatus_to_exitcode(status)}"
