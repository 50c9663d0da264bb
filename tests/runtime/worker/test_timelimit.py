"""The per-task time limit (SIGALRM) nests with other users of the process's one real-time timer.

Pinned behaviour: the per-task timeout is enforced inside the function without breaking an outer
timer (a job run inline inside another job, a test runner's own timeout); inside an
``AlarmSession`` (one Lambda invocation) the handler is installed once and every job is still
stopped at its limit, and the session leaves the handler and the timer as it found them.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest
from lambda_jobs.errors import JobTimeoutError
from lambda_jobs.worker.timelimit import AlarmSession, TimeLimit


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


def _no_timer() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)  # the test runner's own timeout, saved by the fixture


def test_session_installs_the_handler_once_and_every_limit_still_stops_its_job(
    saved_timer: None,
):
    _no_timer()
    signal.signal(signal.SIGALRM, _outer)
    fired: list[bool] = []
    with AlarmSession(on_fire=lambda: fired.append(True)):
        installed = signal.getsignal(signal.SIGALRM)
        assert installed is not _outer
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(JobTimeoutError, match="slow job"), TimeLimit(0.05, "slow job"):
                time.sleep(5)
            assert time.monotonic() - started < 1
            assert signal.getsignal(signal.SIGALRM) is installed  # not re-installed per job
        with TimeLimit(5, "quick job") as quick:
            pass
        assert not quick.fired
        # No limit runs: an alarm now (a timer some code armed) stops nothing.
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        time.sleep(0.1)
    assert fired == [True, True]
    assert signal.getsignal(signal.SIGALRM) is _outer
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_session_puts_its_handler_back_when_a_job_replaced_it(saved_timer: None):
    _no_timer()

    def job_handler(signum: int, frame: FrameType | None) -> None:
        pass

    with AlarmSession():
        installed = signal.getsignal(signal.SIGALRM)
        with TimeLimit(5, "replaces the handler"):
            signal.signal(signal.SIGALRM, job_handler)
        assert signal.getsignal(signal.SIGALRM) is installed
        with pytest.raises(JobTimeoutError), TimeLimit(0.05, "next job"):
            time.sleep(5)


def test_session_does_not_take_over_a_running_timer(saved_timer: None):
    signal.signal(signal.SIGALRM, _outer)
    signal.setitimer(signal.ITIMER_REAL, 5)
    with AlarmSession():
        assert signal.getsignal(signal.SIGALRM) is _outer
        with pytest.raises(JobTimeoutError), TimeLimit(0.05, "inner"):
            time.sleep(2)
        assert signal.getsignal(signal.SIGALRM) is _outer
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    assert 4 < left < 5


def test_a_limit_nested_in_a_session_job_nests(saved_timer: None):
    _no_timer()
    with AlarmSession(), TimeLimit(0.3, "outer job") as outer:
        with pytest.raises(JobTimeoutError, match="inner job"), TimeLimit(0.05, "inner job"):
            time.sleep(2)
        with pytest.raises(JobTimeoutError, match="outer job"):
            time.sleep(2)
    assert outer.fired


def test_session_in_another_thread_enforces_nothing(saved_timer: None):
    _no_timer()
    seen: list[bool] = []

    def worker() -> None:
        with AlarmSession(), TimeLimit(0.01, "thread") as limit:
            time.sleep(0.05)
        seen.append(limit.enforced or limit.fired)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert seen == [False]
