"""Retry waits: exponential backoff with "equal jitter".

The wait before attempt ``n + 1`` (after ``n`` failed attempts) is ``base * 2 ** (n - 1)``
capped at ``maximum``; with jitter the wait is drawn uniformly from the upper half of that value,
so retries of many jobs that failed together spread out, yet no retry comes back sooner than half
the nominal wait (plain "full jitter" can retry at once, which hammers a struggling dependency).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

#: Longest wait a retry may be given: SQS ``ChangeMessageVisibility`` accepts at most 12 hours.
MAX_BACKOFF_SECONDS = 12 * 60 * 60


def retry_delay(
    failed_attempts: int,
    *,
    base: float,
    maximum: float,
    jitter: bool,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next attempt, after ``failed_attempts`` (>= 1) failures."""
    if failed_attempts < 1:
        raise ValueError(f"failed_attempts must be >= 1, got {failed_attempts}")
    exponent = min(failed_attempts - 1, 64)  # 2**64 seconds is past any cap; avoid huge ints
    nominal = min(base * (2**exponent), maximum, MAX_BACKOFF_SECONDS)
    if not jitter or nominal <= 0:
        return float(nominal)
    import random  # here, not at module level: tasks.py imports this module at cold start

    draw = (rng or random).uniform(0.0, nominal / 2)
    return float(nominal / 2 + draw)
