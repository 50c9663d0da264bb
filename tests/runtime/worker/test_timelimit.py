"""The per-task time limit (SIGALRM) nests with other users of the process's one real-time timer.

Pinned behaviour: the per-task timeout is enforced inside the function without breaking an outer
timer (a job run inline inside another job, a test runner's own timeout).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from lambda_jobs.errors import JobTimeoutError
from lambda_jobs.worker.timelimit import TimeLimit


class OuterFired(Exception):
    pass


def _outer(signum: int, frame: FrameType | None) -> None:
    raise OuterFired


@pytest.fixture
def saved_timer() -> Iterator[None]:
    """Put back whatever timer and handler the test runner had."""
    handler = signal.getsignal(signal.SIGALRM)
    delay, interval = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    yield
    signal.signal(signal.SIGALRM, handler)
    if delay > 0:
        left = max(delay - (time.monotonic() - started), 0.001)
        signal.setitimer(signal.ITIMER_REAL, left, interval)
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_limit_interrupts_a_sleep_and_restores_the_handler(saved_timer: None):
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, _outer)
    limit = TimeLimit(0.1, "too slow")
    started = time.monotonic()
    with pytest.raises(JobTimeoutError, match="too slow"), limit:
        time.sleep(5)
    assert time.monotonic() - started < 1
    assert limit.fired
    assert signal.getsignal(signal.SIGALRM) is _outer
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_shorter_limit_takes_the_timer_over_and_gives_the_outer_one_back(saved_timer: None):
    signal.signal(signal.SIGALRM, _outer)
    signal.setitimer(signal.ITIMER_REAL, 5)
    with pytest.raises(JobTimeoutError), TimeLimit(0.1, "inner"):
        time.sleep(2)
    assert signal.getsignal(signal.SIGALRM) is _outer
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    assert 4 < left < 5  # the outer timer keeps its own deadline


def test_outer_timer_that_fires_first_is_left_alone(saved_timer: None):
    signal.signal(signal.SIGALRM, _outer)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    limit = TimeLimit(5, "inner")
    with pytest.raises(OuterFired), limit:
        assert not limit.enforced
        time.sleep(2)


def test_no_limit_means_no_timer(saved_timer: None):
    signal.setitimer(signal.ITIMER_REAL, 0)
    with TimeLimit(None, "") as limit:
        assert not limit.enforced
        assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
