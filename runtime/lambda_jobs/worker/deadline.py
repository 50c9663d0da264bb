"""The Lambda function's deadline as the handler spends it: which jobs may start, and for how long.

Rule (both backends; Goat applies it before each record of a batch):

- *budget* = ``context.get_remaining_time_in_millis()`` - margin, where the margin is
  ``LAMBDA_JOBS_DEADLINE_MARGIN_MS`` (default :data:`DEFAULT_MARGIN_MS`, 2000 ms): time kept back
  for the work after the last job (visibility changes, DLQ sends, hand-back copies).
- A job *needs* its task's timeout, or :data:`MIN_SLICE_MS` (1 s) when it has none; a message that
  is dead-lettered without running needs nothing beyond a positive budget.
- The first job of an invocation always starts (a later invocation would not have more time, so
  handing it back could loop forever). Any later job starts only if its need fits in the budget;
  otherwise it and every record after it are handed back.
- A started job runs at most ``min(timeout, budget)``; if the budget is already used up when the
  first job starts (a function timeout shorter than the margin), it gets half the remaining time.

Without a context (direct calls in scripts) there is no deadline.
"""

from __future__ import annotations

import time

from lambda_jobs.errors import ConfigurationError

TYPE_CHECKING = False  # see lambda_jobs/__init__.py
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MARGIN_ENV = "LAMBDA_JOBS_DEADLINE_MARGIN_MS"
DEFAULT_MARGIN_MS = 2000
#: Largest accepted margin: a minute is far more than any follow-up work needs.
MAX_MARGIN_MS = 60_000
#: What a job without a task timeout needs to be started after the first job of a batch.
MIN_SLICE_MS = 1000


def margin_from(environ: Mapping[str, str]) -> int:
    """``LAMBDA_JOBS_DEADLINE_MARGIN_MS`` in ms (default 2000); a bad value names the problem."""
    raw = environ.get(MARGIN_ENV, "").strip()
    if not raw:
        return DEFAULT_MARGIN_MS
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{MARGIN_ENV} must be a whole number of milliseconds, got {raw!r}"
        ) from None
    if not 0 <= value <= MAX_MARGIN_MS:
        raise ConfigurationError(f"{MARGIN_ENV} must be in 0..{MAX_MARGIN_MS} ms, got {value}")
    return value


class FunctionClock:
    """The deadline of one invocation, read from its Lambda ``context``.

    The context is asked once, when the clock is made: the deadline of an invocation does not
    move, so later readings come from ``time.monotonic()`` (no call into the context per job).
    """

    __slots__ = ("_deadline", "margin_ms")

    def __init__(self, context: Any, margin_ms: int) -> None:
        self.margin_ms = margin_ms
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._deadline = None if remaining is None else time.monotonic() + float(remaining()) / 1000

    def remaining_ms(self) -> float | None:
        """Milliseconds before Lambda stops the function, or None when unknown."""
        if self._deadline is None:
            return None
        left = (self._deadline - time.monotonic()) * 1000
        return left if left > 0 else 0.0

    def may_start(self, need_ms: float, first: bool) -> bool:
        """Whether a job needing ``need_ms`` may start now (see the module docstring)."""
        if first or self._deadline is None:
            return True
        budget = (self._deadline - time.monotonic()) * 1000 - self.margin_ms
        return budget > 0 and need_ms <= budget

    def time_limit(self, timeout: float | None, task_name: str) -> tuple[float | None, str]:
        """Seconds the job may run and the message of the timeout it gets when it runs over."""
        deadline = self._deadline
        if deadline is None:
            return timeout, _task_message(task_name, timeout)
        remaining = (deadline - time.monotonic()) * 1000
        if remaining < 0:
            remaining = 0.0
        budget_s = (remaining - self.margin_ms) / 1000
        if budget_s <= 0:
            budget_s = remaining / 2000
        if timeout is not None and timeout <= budget_s:
            return timeout, _task_message(task_name, timeout)
        return budget_s, _deadline_message(task_name, self.margin_ms)


#: The messages of the limits, by task: built once per task and timeout, not once per job
#: (bounded: per-job timeout overrides may vary).
_messages: dict[tuple[str, float | None, int | None], str] = {}
_MAX_MESSAGES = 1024


def _task_message(task_name: str, timeout: float | None) -> str:
    key = (task_name, timeout, None)
    message = _messages.get(key)
    if message is None:
        if len(_messages) >= _MAX_MESSAGES:
            _messages.clear()
        message = _messages[key] = (
            f"task {task_name} ran past its timeout of {timeout:g} s" if timeout is not None else ""
        )
    return message


def _deadline_message(task_name: str, margin_ms: int) -> str:
    key = (task_name, None, margin_ms)
    message = _messages.get(key)
    if message is None:
        if len(_messages) >= _MAX_MESSAGES:
            _messages.clear()
        message = _messages[key] = (
            f"task {task_name} was stopped {margin_ms} ms before the Lambda function's "
            f"deadline ({MARGIN_ENV}); give the function a longer timeout or the task a shorter one"
        )
    return message
