"""Stop a job that runs past its time limit: ``SIGALRM`` raising :class:`JobTimeoutError`.

awslambdaric calls the handler in the process's main thread (checked against its source and in
``tests/runtime/test_handler_awslambdaric.py``), so a real-time interval timer can interrupt the
job wherever it is, including inside ``time.sleep`` or a blocking socket read: Python runs the
signal handler in the main thread between bytecodes, and the exception surfaces in the job.

What callers may rely on:

- A limit only applies in the main thread. Elsewhere (inline mode called from a web server's
  worker thread) signals cannot be delivered to the job, so the limit is **not enforced** and
  :attr:`TimeLimit.enforced` is False; in Lambda the function's own timeout still applies.
- The timer repeats every :data:`REPEAT_SECONDS` after it first fires, so a job that swallows the
  exception (``except Exception: pass``) is interrupted again; :attr:`TimeLimit.fired` tells the
  caller that the limit was reached even if the job then returned normally.
- Limits nest (a job run inline from inside another job, or a test runner's own ``SIGALRM``
  timeout): there is one ``ITIMER_REAL`` per process, so if a timer is already running and would
  fire first, it is left alone and this limit is not enforced; otherwise this limit takes the
  timer over and, on exit, gives it back with the time the outer timer had left (it fires at once
  if that time has passed).
- On exit the previous ``SIGALRM`` handler is restored and the timer disarmed (or given back).
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType, TracebackType
from typing import Any

from lambda_jobs.errors import JobTimeoutError

#: After the first interruption, interrupt again this often until the job gives up.
REPEAT_SECONDS = 0.5


class TimeLimit:
    """A context manager limiting the code inside it to ``seconds`` (None: no limit)."""

    __slots__ = ("_outer", "_previous", "_started", "enforced", "fired", "message", "seconds")

    def __init__(self, seconds: float | None, message: str) -> None:
        self.seconds = seconds
        self.message = message
        self.enforced = False
        self.fired = False
        self._previous: Any = None
        self._outer: tuple[float, float] = (0.0, 0.0)
        self._started = 0.0

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        self.fired = True
        raise JobTimeoutError(self.message)

    def __enter__(self) -> TimeLimit:
        if self.seconds is None or threading.current_thread() is not threading.main_thread():
            return self
        seconds = max(self.seconds, 0.001)
        outer = signal.getitimer(signal.ITIMER_REAL)
        if 0 < outer[0] <= seconds:
            return self  # an outer timer fires first: keep it (see the module docstring)
        self._outer = outer
        self._started = time.monotonic()
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
        self.enforced = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.enforced:
            return
        # None: the old handler was not installed from Python; the default is the safe guess.
        previous = signal.SIG_DFL if self._previous is None else self._previous
        for _ in range(3):
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except JobTimeoutError:
                # The alarm fired while we were disarming it: the job did reach its limit.
                self.fired = True
        self.enforced = False
        outer_delay, outer_interval = self._outer
        if outer_delay > 0:
            left = outer_delay - (time.monotonic() - self._started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.000_001), outer_interval)
