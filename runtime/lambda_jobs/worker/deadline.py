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

from collections.abc import Mapping
from typing import Any

from lambda_jobs.errors import ConfigurationError

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
    """The deadline of one invocation, read from its Lambda ``context``."""

    __slots__ = ("_remaining", "margin_ms")

    def __init__(self, context: Any, margin_ms: int) -> None:
        self.margin_ms = margin_ms
        self._remaining = getattr(context, "get_remaining_time_in_millis", None)

    def remaining_ms(self) -> float | None:
        """Milliseconds before Lambda stops the function, or None when unknown."""
        if self._remaining is None:
            return None
        return float(self._remaining())

    def may_start(self, need_ms: float, *, first: bool) -> bool:
        """Whether a job needing ``need_ms`` may start now (see the module docstring)."""
        remaining = self.remaining_ms()
        if remaining is None or first:
            return True
        budget = remaining - self.margin_ms
        return budget > 0 and need_ms <= budget

    def time_limit(self, timeout: float | None, task_name: str) -> tuple[float | None, str]:
        """Seconds the job may run and the message of the timeout it gets when it runs over."""
        task_message = (
            f"task {task_name} ran past its timeout of {timeout:g} s" if timeout is not None else ""
        )
        remaining = self.remaining_ms()
        if remaining is None:
            return timeout, task_message
        budget_s = (remaining - self.margin_ms) / 1000
        if budget_s <= 0:
            budget_s = remaining / 2000
        if timeout is not None and timeout <= budget_s:
            return timeout, task_message
        return budget_s, (
            f"task {task_name} was stopped {self.margin_ms} ms before the Lambda function's "
            f"deadline ({MARGIN_ENV}); give the function a longer timeout or the task a shorter one"
        )
