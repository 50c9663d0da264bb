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
- On exit the timer is disarmed (or given back) and the ``SIGALRM`` handler is the one that was
  installed before.
- A limit with an :attr:`TimeLimit.interrupt` (an ``async def`` task's event loop sets one,
  :mod:`lambda_jobs.worker.coroutine`) has it called at the first alarm instead of the raise: it
  cancels the coroutine where it awaits. Every later alarm raises as usual, so a coroutine that
  blocks or ignores the cancellation is still stopped.

The cost per job (the handler's hot path): inside an :func:`AlarmSession` (one per Lambda
invocation, :func:`lambda_jobs.handler.handle`) the ``SIGALRM`` handler is installed once, so a
job's limit is two ``setitimer`` calls (arm, disarm). Outside a session, or when the session found
another timer running, or when a job replaced the handler, each limit installs and restores the
handler itself (the nesting rules above). The ``_signal`` built-in is used rather than
``signal``: same functions, without the ``enum`` wrappers that cost a millisecond at import and
a microsecond per call.
"""

from __future__ import annotations

import time

from lambda_jobs.errors import JobTimeoutError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
    from types import FrameType, TracebackType
    from typing import Any
else:
    try:  # CPython's built-in behind the ``signal`` module: loaded with the interpreter.
        import _signal as signal
    except ImportError:  # other interpreters
        import signal

#: After the first interruption, interrupt again this often until the job gives up.
REPEAT_SECONDS = 0.5

_ITIMER_REAL = signal.ITIMER_REAL
_SIGALRM = signal.SIGALRM
_setitimer = signal.setitimer
_getsignal = signal.getsignal

#: The innermost enforced limit; the one :func:`_on_alarm` stops.
_active: TimeLimit | None = None
#: The session's ``SIGALRM`` handler state: the handler it replaced, or None outside a session.
_session_previous: Any = None
_in_session = False
#: The session's ``on_fire``: called each time a limit fires, before the job is interrupted.
_on_fire: Callable[[], None] | None = None


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    limit = _active
    if limit is None:
        return  # a late alarm after the job ended: nothing to stop
    limit.fired = True
    hook = _on_fire
    if hook is not None:
        try:  # noqa: SIM105 - contextlib is not on the cold-start path
            hook()
        except Exception:  # a hook never turns a timeout into another error
            pass
    interrupt = limit.interrupt
    if interrupt is not None:
        limit.interrupt = None  # once: the next alarm raises
        interrupt()
        return
    raise JobTimeoutError(limit.message)


class AlarmSession:
    """Install the ``SIGALRM`` handler once for many limits (a Lambda invocation).

    Only where it can: in the main thread, with no other timer running (an outer timer keeps the
    per-limit nesting rules). On exit the previous handler is back and no timer is left armed.
    ``on_fire`` (errors ignored) runs each time a limit of the session fires, in the signal
    handler, before the job is interrupted: the job log writes the lines it holds then, so they
    survive a job that ignores the interruption until the function's own timeout kills it.
    """

    __slots__ = ("_entered", "_hook")

    def __init__(self, on_fire: Callable[[], None] | None = None) -> None:
        self._entered = False
        self._hook = on_fire

    def __enter__(self) -> AlarmSession:
        global _session_previous, _in_session, _on_fire
        if _in_session or _active is not None or signal.getitimer(_ITIMER_REAL)[0] > 0:
            return self
        try:
            previous = signal.signal(_SIGALRM, _on_alarm)
        except ValueError:  # not the main thread: limits are not enforced there
            return self
        _session_previous, _in_session, self._entered = previous, True, True
        _on_fire = self._hook
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _session_previous, _in_session, _on_fire
        if not self._entered:
            return
        self._entered = _in_session = False
        _on_fire = None
        _setitimer(_ITIMER_REAL, 0)
        previous, _session_previous = _session_previous, None
        if _getsignal(_SIGALRM) is _on_alarm:
            signal.signal(_SIGALRM, signal.SIG_DFL if previous is None else previous)


#: ``TimeLimit._previous`` of a limit that only armed the session's timer.
_SESSION = object()


class TimeLimit:
    """A context manager limiting the code inside it to ``seconds`` (None: no limit)."""

    __slots__ = (
        "_outer",
        "_outer_limit",
        "_previous",
        "_started",
        "enforced",
        "fired",
        "interrupt",
        "message",
        "seconds",
    )
    _previous: Any  # the handler to put back, or _SESSION
    _outer: tuple[float, float]
    _outer_limit: TimeLimit | None
    _started: float

    def __init__(self, seconds: float | None, message: str) -> None:
        self.seconds = seconds
        self.message = message
        self.enforced = False
        self.fired = False
        #: Called (once) at the first alarm instead of raising; see the module docstring.
        self.interrupt: Callable[[], object] | None = None

    def __enter__(self) -> TimeLimit:
        global _active
        seconds = self.seconds
        if (
            _in_session
            and _active is None
            and seconds is not None
            and _getsignal(_SIGALRM) is _on_alarm
        ):
            # The session's handler is in place and no other limit runs: arm the timer.
            self._previous = _SESSION
            _active = self
            self.enforced = True
            _setitimer(_ITIMER_REAL, seconds if seconds > 0.001 else 0.001, REPEAT_SECONDS)
            return self
        if seconds is None:
            return self
        return self._take_timer(seconds if seconds > 0.001 else 0.001)

    def _take_timer(self, seconds: float) -> TimeLimit:
        """Install the handler and arm the timer for this limit alone (the nesting rules)."""
        global _active
        outer = signal.getitimer(_ITIMER_REAL)
        if 0 < outer[0] <= seconds:
            return self  # an outer timer fires first: keep it (see the module docstring)
        try:
            self._previous = signal.signal(_SIGALRM, _on_alarm)
        except ValueError:  # not the main thread: signals cannot reach the job
            return self
        self._outer = outer
        self._started = time.monotonic()
        self._outer_limit, _active = _active, self
        self.enforced = True
        _setitimer(_ITIMER_REAL, seconds, REPEAT_SECONDS)
        return self

    def release(self, *_exc_info: object) -> None:
        """End the limit (what leaving the ``with`` block does); calling it again does nothing.

        :func:`lambda_jobs.worker.runner.run_attempt` calls it again after a failure: an alarm
        that fires as the block is left raises before ``__exit__`` can run. It *is* ``__exit__``
        (which ignores the exception it is given), so leaving the block costs one call, not two.
        """
        global _active
        if not self.enforced:
            return
        if self._previous is _SESSION:
            _active = None  # from here an alarm is ignored
            self.enforced = False
            _setitimer(_ITIMER_REAL, 0)
            if _getsignal(_SIGALRM) is not _on_alarm:  # the job replaced the handler: undo it
                signal.signal(_SIGALRM, _on_alarm)
            return
        for _ in range(3):
            try:
                _setitimer(_ITIMER_REAL, 0)
                break
            except JobTimeoutError:
                # The alarm fired while we were disarming it: the job did reach its limit.
                self.fired = True
        _active = self._outer_limit
        self.enforced = False
        previous = self._previous
        # None: the old handler was not installed from Python; the default is the safe guess.
        signal.signal(_SIGALRM, signal.SIG_DFL if previous is None else previous)
        outer_delay, outer_interval = self._outer
        if outer_delay > 0:
            left = outer_delay - (time.monotonic() - self._started)
            _setitimer(_ITIMER_REAL, max(left, 0.000_001), outer_interval)

    __exit__ = release
