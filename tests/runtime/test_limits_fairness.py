"""Flow control's fairness bound (issue 20), counted on a real (moto server) DynamoDB table.

A steady stream: every tick one slot of ``Concurrency(name, n)`` frees and one new job tries at
once, before the waiters come back (each waiter tries again 2 ticks after a refusal, as a
hand-back copy would). Without a bound the new arrivals take every freed slot and the first
waiters never start. With it (``jobstore.limits``: a place kept by the first wait; a waiter passed
over ``n`` times is due; one slot is kept for the oldest due waiter), counted per job:

- every job starts;
- with ``n = 1`` (no room beyond the kept slot) at most ``n`` jobs that first tried after a waiter
  start before it;
- once a waiter is due and every waiter before it has started (its turn), each refusal it meets
  is for room held by jobs that started before its turn: never by a later job that started in
  its turn.

The same rule on a ``Rate`` (its window in real time): once passed over ``n`` times, a start in
the window is kept for the waiter.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest
from lambda_jobs.jobstore import limits as store_limits
from lambda_jobs.jobstore.claims import WorkerStore
from lambda_jobs.limits import Held
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.runtime.job_table import TABLE, make_table

RETURN_TICKS = 2
FIRST_WAITERS = 4
STREAM_TICKS = 24


@pytest.fixture
def store(moto: MotoServer) -> WorkerStore:
    make_table(moto)
    return WorkerStore(TABLE, 3600)


@dataclass
class Stream:
    """What the harness saw, independently of the store's own bookkeeping."""

    n: int
    fair: bool
    first_try: dict[str, int] = field(default_factory=dict)  # job -> sequence of its first try
    first_refusal: dict[str, int] = field(default_factory=dict)
    granted: dict[str, int] = field(default_factory=dict)  # job -> sequence of its grant
    holders: list[str] = field(default_factory=list)  # in grant order
    #: job -> (sequence, the holders then) of each of its refusals
    refused_while_held_by: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)
    seq: int = 0

    def tick(self) -> int:
        self.seq += 1
        return self.seq

    def passed_over(self, job: str) -> list[str]:
        """The jobs that first tried after ``job``'s first refusal and started before it."""
        if job not in self.first_refusal:
            return []
        until = self.granted.get(job, self.seq + 1)
        return sorted(
            (
                other
                for other, at in self.granted.items()
                if self.first_try[other] > self.first_refusal[job] and at < until
            ),
            key=self.granted.__getitem__,
        )


def run_stream(store: WorkerStore, n: int, *, fair: bool) -> Stream:
    """Run the stream (module docstring) against ``Concurrency(<fresh name>, n)``."""
    held = Held("concurrency", f"fair-{uuid.uuid4().hex[:8]}", n, 0.0, None)
    seen = Stream(n, fair)
    returns: dict[int, list[str]] = {}
    tick = 0

    def try_start(job: str) -> None:
        seen.first_try.setdefault(job, seen.tick())
        decision = store_limits.acquire(store, held, f"{job}/req", 60.0, job if fair else None)
        at = seen.tick()
        if decision.wait is None:
            seen.granted[job] = at
            seen.holders.append(job)
            return
        seen.first_refusal.setdefault(job, at)
        seen.refused_while_held_by.setdefault(job, []).append((at, list(seen.holders)))
        returns.setdefault(tick + RETURN_TICKS, []).append(job)

    for index in range(n + FIRST_WAITERS):  # a burst: n start, the rest wait
        try_start(f"burst-{index}")
    for tick in range(1, 4 * STREAM_TICKS):
        if seen.holders:  # one slot frees
            oldest = seen.holders.pop(0)
            store_limits.release(store, held, f"{oldest}/req")
        if tick <= STREAM_TICKS:  # a new job tries at once: the worst case for the waiters
            try_start(f"new-{tick}")
        for job in returns.pop(tick, []):
            try_start(job)
        if tick > STREAM_TICKS and not returns:
            break
    return seen


def test_without_the_bound_a_steady_stream_starves_the_first_waiters(store: WorkerStore) -> None:
    """The harness's own check: with no job id (no fairness) the first waiters start only when
    the stream ends, after every new job."""
    seen = run_stream(store, 1, fair=False)
    last_new = seen.granted[f"new-{STREAM_TICKS}"]
    starved = [
        f"burst-{i}" for i in range(1, 1 + FIRST_WAITERS) if seen.granted[f"burst-{i}"] > last_new
    ]
    assert starved, "the stream never starved anybody: it tests nothing"
    assert len(seen.passed_over("burst-1")) >= STREAM_TICKS


@pytest.mark.parametrize("n", [1, 3])
def test_a_waiter_passed_over_n_times_is_served_in_turn_and_no_later_job_takes_its_room(
    store: WorkerStore, n: int
) -> None:
    seen = run_stream(store, n, fair=True)
    assert set(seen.granted) == set(seen.first_try), "a job never started"
    waiters = sorted(seen.first_refusal, key=seen.first_refusal.__getitem__)
    assert len(waiters) > FIRST_WAITERS, "the new arrivals never waited: nothing was kept"
    served_turn = 0
    for job in waiters:
        passed = seen.passed_over(job)
        if n == 1:  # one slot, kept: at most n later jobs start before it
            assert len(passed) <= n, (job, passed)
        if len(passed) < n:
            continue
        # Due at its n-th pass; its turn comes when every waiter before it has started: from
        # then on a later job that started never held the room it was refused for.
        older = [seen.granted[other] for other in waiters[: waiters.index(job)]]
        turn = max([seen.granted[passed[n - 1]], *older])
        later_in_turn = {other for other in passed if seen.granted[other] > turn}
        for at, holders in seen.refused_while_held_by[job]:
            if at > turn:
                assert not later_in_turn & set(holders), (job, at, holders)
                served_turn += 1
    assert served_turn, "no waiter was refused in its turn: the bound was never tested"
    # The first waiters, passed over most, did not wait for the whole stream.
    assert all(
        seen.granted[f"burst-{n + i}"] < seen.granted[f"new-{STREAM_TICKS}"]
        for i in range(FIRST_WAITERS)
    )


def test_a_rate_keeps_a_start_for_a_waiter_passed_over_n_times(store: WorkerStore) -> None:
    """The same rule on a ``Rate``: once passed over ``n`` times, a start in the window is kept
    for the waiter; a later job gets only the room beyond it."""
    budget = Held("rate", f"fair-rate-{uuid.uuid4().hex[:8]}", 2, 1.0, None)
    window = budget.per + store_limits.RATE_MARGIN_SECONDS

    def start(job: str) -> store_limits.Decision:
        return store_limits.acquire(store, budget, f"{job}/req", 5.0, job)

    assert start("a").wait is None and start("b").wait is None
    refused = start("w")
    assert refused.wait is not None and not refused.due
    time.sleep(window)
    assert start("c").wait is None and start("d").wait is None  # w passed over twice: due
    again = start("w")
    assert again.wait is not None and again.due  # no room yet, but w is due now
    time.sleep(window)
    assert start("e").wait is None  # the room beyond the start kept for w
    assert start("f").wait is not None  # the last start of the window is w's
    granted = start("w")
    assert granted.wait is None and granted.waited >= 2 * window - 0.1
