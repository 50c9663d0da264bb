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
from lambda_jobs import enqueue_many

from tests.soak import report, sizes
from tests.soak.conftest import SoakBackend, dead_letter_attribute, destination_job_id
from tests.soak.sizes import KILL_JOBS, KILLS
from tests.soak.soak_jobs import soak_tasks, succeeded_keys

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
