"""Faults: execution environments SIGKILLed at random points mid-job and mid-batch lose no job.

Jobs of ``lingering`` (runs 0.25 s, writes ``started`` then ``succeeded`` with its process id) go
out in one bulk. While they run, the test picks running jobs at random, waits a random part of the
job's run and SIGKILLs the process that runs it (the pid the task wrote, checked to be an
``awslambdaric`` child of the emulator: an execution environment). Each job is killed at most
once, and it may retry 5 times, so every job must end ``succeeded``:

- Goat (a 2 s function, so a batch lost with its environment is back after its 12 s visibility
  timeout): every other kill waits for a job mid-batch, one started right after another job of
  the same invocation succeeded in that process; the records of that batch, finished or not,
  come back. A kill is no job's failure: without the job store those records run alone and no
  job is charged an attempt for it (counted from the handler's ``retrying`` lines: a job's
  highest attempt is at most 1 + its own failures); with the store, only the killed attempt,
  which its claim counted.
- Lamb: a killed invocation comes back through Lambda's async retries (scaled to 3 s and 6 s).

Executions and duplicates (jobs that finished before their batch's environment died run again:
at-least-once) are reported. Nothing may be in the DLQ.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from lambda_jobs import enqueue_many, get_job

from tests.soak import report, sizes
from tests.soak.conftest import SoakBackend, dead_letter_attribute, destination_job_id
from tests.soak.sizes import KILL_JOBS, KILLS
from tests.soak.soak_jobs import soak_tasks, succeeded_keys, wait_for

pytestmark = pytest.mark.e2e

JOB_SECONDS = 0.25
#: Two runs within this many seconds in one process are two records of one batch.
SAME_BATCH_GAP_S = 0.1


class Kill(NamedTuple):
    key: str
    pid: int
    mid_batch: bool
    into_job_s: float


class Target(NamedTuple):
    started: dict[str, Any]
    mid_batch: bool
    kill_at: float


def running(runs: list[dict[str, Any]]) -> dict[int, tuple[dict[str, Any], bool]]:
    """pid -> (the ``started`` line of the job it runs now, whether an earlier job of the same
    batch succeeded in it just before)."""
    last: dict[int, dict[str, Any]] = {}
    before: dict[int, dict[str, Any] | None] = {}
    for run in runs:
        before[run["pid"]] = last.get(run["pid"])
        last[run["pid"]] = run
    found = {}
    for pid, run in last.items():
        if run["outcome"] != "started":
            continue
        previous = before[pid]
        mid_batch = (
            previous is not None
            and previous["outcome"] == "succeeded"
            and run["at"] - previous["at"] < SAME_BATCH_GAP_S
        )
        found[pid] = (run, mid_batch)
    return found


def environment_of(pid: int, emulator_pid: int) -> bool:
    """True if ``pid`` is an execution environment of the emulator: its ``awslambdaric`` child."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    parent = int(stat.rsplit(")", 1)[1].split()[1])
    return parent == emulator_pid and b"awslambdaric" in cmdline


def still_running(backend: SoakBackend, prefix: str, started: dict[str, Any]) -> bool:
    current = running(backend.runs(prefix)).get(started["pid"])
    return current is not None and current[0] == started


@pytest.mark.parametrize("soak_backend", ["goat-short", "lamb"], indirect=True)
def test_faults_environments_killed_mid_job_and_mid_batch_lose_no_job(
    soak_backend: SoakBackend,
) -> None:
    backend = soak_backend
    lane = "lamb" if backend.name == "lamb" else "goat"
    size, planned = KILL_JOBS[lane], KILLS[lane]
    prefix = f"kill-{lane}-"
    rng = random.Random(20261127)
    keys = [f"{prefix}{index:05d}" for index in range(size)]
    prepared = [soak_tasks.lingering.prepare(key, JOB_SECONDS) for key in keys]
    enqueue_many(prepared)
    kills: list[Kill] = []
    killed_pids: set[int] = set()
    target: Target | None = None
    deadline = time.monotonic() + 90 + size * 0.5
    while time.monotonic() < deadline:
        runs = backend.runs(prefix)
        done = {run["key"] for run in runs if run["outcome"] == "succeeded"}
        if len(done) == size:
            break
        if target is not None and time.time() >= target.kill_at:
            if still_running(backend, prefix, target.started):
                pid = target.started["pid"]
                assert environment_of(pid, backend.emulator.pid), f"{pid} is no environment"
                os.kill(pid, signal.SIGKILL)
                into = time.time() - target.started["at"]
                kills.append(Kill(target.started["key"], pid, target.mid_batch, into))
                killed_pids.add(pid)
            target = None
        started = len({run["key"] for run in runs})
        # Spread the kills over the first half of the jobs to start (a kill in the last jobs
        # would only add a wait for its batch's visibility timeout).
        if target is None and len(kills) < min(planned, 2 * planned * started // size + 1):
            killed_keys = {kill.key for kill in kills}
            want_mid_batch = lane == "goat" and len(kills) % 2 == 0
            candidates = [
                (run, mid_batch)
                for pid, (run, mid_batch) in running(runs).items()
                if pid not in killed_pids
                and run["key"] not in killed_keys
                and (mid_batch or not want_mid_batch)
                # A record that came back runs alone in a child of its environment: not a target.
                and environment_of(pid, backend.emulator.pid)
            ]
            if candidates:
                run, mid_batch = rng.choice(candidates)
                mid_batch = mid_batch and lane == "goat"  # Lamb runs one job per invocation
                kill_at = run["at"] + rng.uniform(0.02, JOB_SECONDS * 0.8)
                target = Target(run, mid_batch, kill_at)
        time.sleep(0.02)

    dead: dict[str, dict[str, Any]] = {}
    backend.take_dead_letters(dead)
    ids = {job.id for job in prepared}
    dead_ours = [
        m
        for m in dead.values()
        if (dead_letter_attribute(m, "job_id") or destination_job_id(m)) in ids
    ]
    runs = backend.runs(prefix)
    succeeded = succeeded_keys(backend, prefix)
    finished = Counter(run["key"] for run in runs if run["outcome"] == "succeeded")
    duplicates = sum(count - 1 for count in finished.values())
    lost = sorted(set(keys) - succeeded)
    # Attempts each job was charged beyond its own failures (its ``retrying`` lines): a killed
    # environment is no job's failure. With the job store, the claim of the killed job's attempt
    # counts it (that job only); without, the records that come back run alone and a kill is
    # charged to none of them.
    own_failures = Counter(line["id"] for line in backend.function_lines("retrying"))
    charged: dict[str, int] = {}
    for job in prepared:
        key = job.args[0]
        highest = max((run["attempt"] for run in runs if run["key"] == key), default=1)
        allowed = 1 + own_failures[job.id]
        if sizes.JOB_STORE and any(kill.key == key for kill in kills):
            allowed += 1
        if highest > allowed:
            charged[key] = highest - allowed
    where = (
        f"{sum(kill.mid_batch for kill in kills)} of them mid-batch, after another job of the "
        "same invocation had succeeded"
        if lane == "goat"
        else "one job per invocation"
    )
    report.add(
        f"kills[{lane}]",
        f"{size} jobs, {len(kills)} environments SIGKILLed mid-job "
        f"{min((k.into_job_s for k in kills), default=0):.2f}-"
        f"{max((k.into_job_s for k in kills), default=0):.2f} s into a 0.25 s job ({where}); "
        f"{sum(1 for run in runs if run['outcome'] == 'started')} executions, "
        f"{duplicates} duplicate completions (at-least-once), {len(dead_ours)} in the DLQ, "
        f"{len(lost)} lost"
        + (f", {len(charged)} jobs charged an attempt for a kill" if lane == "goat" else ""),
    )
    assert not lost, f"jobs that never succeeded after the kills: {lost[:20]}"
    assert not dead_ours, "a job killed once (of 6 attempts) must not end in the DLQ"
    assert len(kills) >= (planned + 1) // 2, f"only {len(kills)} of {planned} kills landed"
    if lane == "goat":
        assert any(kill.mid_batch for kill in kills), "no kill landed mid-batch"
    for kill in kills:
        # The killed run never finished; the job ran again after its environment died.
        after = [run for run in runs if run["key"] == kill.key and run["pid"] != kill.pid]
        assert any(run["outcome"] == "succeeded" for run in after), kill
        if lane == "goat" and sizes.JOB_STORE:
            # With the store, the killed attempt was claimed: it counts (for this job only).
            assert max(run["attempt"] for run in after) >= 2, kill
    if lane == "goat":
        # lingering (retries=5) never fails on its own unless it overruns its timeout: every
        # job, killed or a neighbour whose batch came back with the kill, is charged only that.
        assert not charged, f"attempts charged for a killed environment: {charged}"


#: Jobs that share a batch with the one that crashes (the ESM's batch is 10).
NEIGHBOURS = 9


@pytest.mark.parametrize("soak_backend", ["goat-short", "goat-short-store"], indirect=True)
def test_a_crash_never_dead_letters_its_neighbours_unrun(soak_backend: SoakBackend) -> None:
    """Issue 32: a job that ends its process fails its whole invocation, and all its batch comes
    back with a higher receive count; ``retries=0`` neighbours were dead-lettered as
    ``IncompleteAttempts`` without ever having run. Without the job store a record that came back
    runs alone (in a child process), where the crash is the crasher's own; with the store the
    claim counts attempts, and a record that never started was never claimed."""
    backend = soak_backend
    store = backend.name.endswith("store") or sizes.JOB_STORE
    prefix = f"crash-{backend.name}-"
    keys = [f"{prefix}n{index}" for index in range(NEIGHBOURS)]
    crasher_key = f"{prefix}crasher"
    crasher = soak_tasks.crashing.prepare(crasher_key)
    neighbours = [soak_tasks.steady.prepare(key) for key in keys]  # retries=0
    enqueued = time.time()
    enqueue_many([crasher, *neighbours])  # one SendMessageBatch of 10: one batch, as a rule
    dead: dict[str, dict[str, Any]] = {}

    def crasher_dead() -> bool:
        backend.take_dead_letters(dead)
        return any(dead_letter_attribute(m, "job_id") == crasher.id for m in dead.values())

    # The batch comes back after its 12 s visibility timeout (6 x the 2 s function timeout).
    assert wait_for(
        lambda: crasher_dead() and succeeded_keys(backend, prefix) >= set(keys), timeout=60
    ), f"neighbours that never succeeded: {sorted(set(keys) - succeeded_keys(backend, prefix))}"
    runs = backend.runs(prefix)
    crashes = [run for run in runs if run["key"] == crasher_key]
    first_run = {key: min(r["at"] for r in runs if r["key"] == key) for key in keys}
    came_back = [key for key in keys if first_run[key] - enqueued > 10]
    twice = [key for key in keys if sum(r["key"] == key for r in runs) > 1]
    # The crasher shared its batch with neighbours: they came back with it (a neighbour that
    # finished before the crash ran again: at-least-once, as without the fix).
    assert came_back or twice, "no neighbour shared the crasher's batch: nothing was tested"
    ids = {job.id for job in neighbours}
    dead_neighbours = [m for m in dead.values() if dead_letter_attribute(m, "job_id") in ids]
    [entry] = [m for m in dead.values() if dead_letter_attribute(m, "job_id") == crasher.id]
    report.add(
        f"crash[{'goat+store' if store else 'goat'}]",
        f"1 job ending its process (retries=0) in one batch with {NEIGHBOURS} retries=0 "
        f"neighbours: {len(came_back)} came back unrun, {len(twice)} ran twice; crasher ran "
        f"{len(crashes)} times, dead-lettered as {dead_letter_attribute(entry, 'error_type')}; "
        f"{len(dead_neighbours)} neighbours in the DLQ",
    )
    assert not dead_neighbours, "a neighbour of the crash was dead-lettered"
    # The emulator's mapping says what happened to the crashed invocation's records.
    emulator_log = backend.emulator_log.read_text(encoding="utf-8")
    assert f"returned with the failed invocation  soak_tasks.crashing {crasher.id[:8]}" in (
        emulator_log
    )
    assert dead_letter_attribute(entry, "error_type") == "IncompleteAttempts"
    assert dead_letter_attribute(entry, "reason") == "exhausted"
    # With the store the claim stops it on its second delivery, unrun; without, it ran alone.
    assert len(crashes) == (1 if store else 2), crashes
    if store:  # issue 31 point 6: that refused delivery is no attempt (one worker per run)
        crashed = get_job(crasher.id)
        assert crashed.attempts == len(crashes) == len(crashed.worker_ids), crashed


def charged_beyond_own_failures(runs: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The runs of ``key`` whose attempt is past 1 + the failures of its own before them: each
    one an attempt charged for something else (another job's crash, a kill)."""
    failures = 0
    charged = []
    for run in runs:
        if run["key"] != key:
            continue
        if run["attempt"] > failures + 1:
            charged.append(run)
        failures += run["outcome"] == "failed"
    return charged


@pytest.mark.parametrize("soak_backend", ["goat-short", "goat-short-store"], indirect=True)
def test_a_crash_charges_its_retried_neighbours_none_of_their_attempts(
    soak_backend: SoakBackend,
) -> None:
    """Issue 32, the rest: a neighbour with ``retries > 0`` lost an attempt to another job's
    crash (its receive count rose with the batch's). One batch: a job that ends its process on
    each of its 2 attempts, neighbours that fail on their first run and succeed on the next (one
    retry: any attempt charged for the crash would dead-letter them) and neighbours that fail on
    both of their attempts. Each neighbour must be charged only its own failures; the crasher
    reaches the DLQ as ``IncompleteAttempts`` after its own 2 attempts."""
    backend = soak_backend
    store = backend.name.endswith("store") or sizes.JOB_STORE
    prefix = f"crash-retried-{backend.name}-"
    crasher = soak_tasks.crashing_retried.prepare(f"{prefix}crasher")
    once = [soak_tasks.fails_once.prepare(f"{prefix}once{index}") for index in range(4)]
    doomed = [soak_tasks.doomed.prepare(f"{prefix}doomed{index}") for index in range(5)]
    once_keys = [job.args[0] for job in once]
    doomed_keys = [job.args[0] for job in doomed]
    enqueued = time.time()
    # One SendMessageBatch of 10 (one batch, as a rule), the crasher mid-batch: some neighbours
    # run (and fail) before it, the others never start.
    enqueue_many([*once[:2], *doomed[:2], crasher, *once[2:], *doomed[2:]])
    dead: dict[str, dict[str, Any]] = {}
    expected_dead = {job.id for job in doomed} | {crasher.id}

    def settled() -> bool:
        backend.take_dead_letters(dead)
        dead_ids = {dead_letter_attribute(m, "job_id") for m in dead.values()}
        return expected_dead <= dead_ids and succeeded_keys(backend, prefix) >= set(once_keys)

    assert wait_for(settled, timeout=120), (
        f"not settled: succeeded {sorted(succeeded_keys(backend, prefix))}, "
        f"dead {sorted(str(dead_letter_attribute(m, 'task')) for m in dead.values())}"
    )
    runs = backend.runs(prefix)
    entries = {dead_letter_attribute(m, "job_id"): m for m in dead.values()}
    # The crasher shared its batch: neighbours ran as attempt 1 after the batch came back (12 s).
    shared = sorted(
        key
        for key in once_keys + doomed_keys
        if any(r["key"] == key and r["attempt"] == 1 and r["at"] - enqueued > 10 for r in runs)
    )
    charged = {key: charged_beyond_own_failures(runs, key) for key in once_keys + doomed_keys}
    crashes = [run for run in runs if run["key"] == crasher.args[0]]
    report.add(
        f"crash-retried[{'goat+store' if store else 'goat'}]",
        f"1 job ending its process on both of its 2 attempts, in one batch with "
        f"{len(once)} fail-once and {len(doomed)} always-failing neighbours (retries=1): "
        f"{len(shared)} came back with it; {sum(map(len, charged.values()))} neighbour attempts "
        f"charged for the crash; crasher ran {len(crashes)} times, dead-lettered as "
        f"{dead_letter_attribute(entries[crasher.id], 'error_type')} "
        f"(attempts {dead_letter_attribute(entries[crasher.id], 'attempts')})",
    )
    assert shared, "no neighbour shared the crasher's batch: nothing was tested"
    assert not any(charged.values()), f"attempts charged for another job's crash: {charged}"
    assert not {job.id for job in once} & set(entries), "a fail-once neighbour was dead-lettered"
    for job in doomed:
        entry = entries[job.id]
        assert dead_letter_attribute(entry, "error_type") == "RuntimeError", entry
        assert dead_letter_attribute(entry, "attempts") == "2", entry
        key = job.args[0]
        assert {r["attempt"] for r in runs if r["key"] == key} == {1, 2}, key
    entry = entries[crasher.id]
    assert dead_letter_attribute(entry, "error_type") == "IncompleteAttempts"
    # With the store the claim refuses the attempt past the last one and names it (3).
    assert dead_letter_attribute(entry, "attempts") == ("3" if store else "2")
    emulator_log = backend.emulator_log.read_text(encoding="utf-8")
    assert (
        f"returned with the failed invocation  soak_tasks.crashing_retried {crasher.id[:8]}"
        in emulator_log
    )
    # Without the store: once with the batch (not charged: it could have been a neighbour's),
    # then alone on each of its 2 attempts. With it, the claim counts the 2 attempts it started.
    assert len(crashes) == (2 if store else 3), crashes
