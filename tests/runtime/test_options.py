"""Retry waits (hypothesis properties): exponential, capped, jittered into the upper half."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_jobs.options import MAX_BACKOFF_SECONDS, RetryPolicy, retry_delay

attempts = st.integers(min_value=1, max_value=10_000)
bases = st.floats(min_value=0.001, max_value=MAX_BACKOFF_SECONDS)
maxima = st.floats(min_value=0.001, max_value=10 * MAX_BACKOFF_SECONDS)
seeds = st.integers(min_value=0, max_value=2**32)


def nominal(failed: int, base: float, maximum: float) -> float:
    return retry_delay(failed, base=base, maximum=maximum, jitter=False)


@given(failed=attempts, base=bases, maximum=maxima, seed=seeds)
def test_backoff_jittered_wait_is_within_the_upper_half_of_nominal(
    failed: int, base: float, maximum: float, seed: int
) -> None:
    expected = nominal(failed, base, maximum)
    wait = retry_delay(failed, base=base, maximum=maximum, jitter=True, rng=random.Random(seed))
    assert expected / 2 <= wait <= expected


@given(failed=attempts, base=bases, maximum=maxima)
def test_backoff_nominal_wait_is_capped_at_max_and_12_hours(
    failed: int, base: float, maximum: float
) -> None:
    wait = nominal(failed, base, maximum)
    assert 0 < wait <= min(maximum, MAX_BACKOFF_SECONDS)
    assert wait <= 12 * 60 * 60


@given(failed=attempts, base=bases, maximum=maxima)
def test_backoff_nominal_wait_never_shrinks_from_one_attempt_to_the_next(
    failed: int, base: float, maximum: float
) -> None:
    assert nominal(failed, base, maximum) <= nominal(failed + 1, base, maximum)


@given(failed=st.integers(min_value=1, max_value=30), base=st.floats(0.001, 100.0))
def test_backoff_nominal_wait_doubles_until_the_cap(failed: int, base: float) -> None:
    uncapped = base * 2 ** (failed - 1)
    wait = nominal(failed, base, MAX_BACKOFF_SECONDS)
    assert wait == pytest.approx(min(uncapped, MAX_BACKOFF_SECONDS))


def test_backoff_first_wait_is_the_base() -> None:
    assert nominal(1, 5.0, 3600.0) == 5.0
    assert nominal(2, 5.0, 3600.0) == 10.0


def test_backoff_huge_attempt_counts_do_not_overflow() -> None:
    assert nominal(10**9, 1.0, 60.0) == 60.0


@pytest.mark.parametrize("failed", [0, -1])
def test_backoff_needs_at_least_one_failed_attempt(failed: int) -> None:
    with pytest.raises(ValueError, match="failed_attempts must be >= 1"):
        retry_delay(failed, base=1.0, maximum=2.0, jitter=True)


@given(failed=st.integers(min_value=1, max_value=60), backoff=bases, seed=seeds)
def test_longest_delay_after_bounds_every_delay_after(
    failed: int, backoff: float, seed: int
) -> None:
    """Goat picks a retry's way (a delayed copy up to 900 s) from the bound, which the receiver
    of the message computes again: every jittered wait must be within it."""
    policy = RetryPolicy(retries=3, retry_backoff=backoff, retry_backoff_max=MAX_BACKOFF_SECONDS)
    random.seed(seed)
    assert policy.delay_after(failed) <= policy.longest_delay_after(failed)
