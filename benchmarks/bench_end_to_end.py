"""Benchmark 4: end-to-end latency and throughput under ``lambda-jobs local``, per backend.

The demo app is synthesized (``cdk synth``, as the end-to-end tests do) and each demo backend runs
under its own ``lambda-jobs local`` child process (moto for SQS, Lambda functions as awslambdaric
processes). Jobs are the demo's ``hello`` task: it does no work but append one JSON line with
``time.time()`` to ``LAMBDA_JOBS_DEMO_LOG`` when it starts, which is how the task's start is seen.

- **latency**: jobs enqueued one at a time with ``Task.enqueue``, paced below capacity; each job's
  latency is its start minus the moment its ``enqueue`` call began. Median and p99.
- **throughput**: ``--jobs`` jobs (1,000 by default) in one ``enqueue_many`` call; jobs per second
  from the call's start to the last job's start, plus the latency percentiles under that burst.

Every job must start exactly once within the deadline, or the benchmark fails (no job lost).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_results import Section, Table, median, write_section
from lambda_jobs import aws, enqueue_many
from lambda_jobs.emulator.process import EmulatorProcess

from tests.e2e.conftest import STACKS, demo_tasks, synthesize

LATENCY_JOBS = 100
LATENCY_PACING_SECONDS = 0.05
DEADLINE_SECONDS = 120.0


def started_at(log: Path, prefix: str) -> dict[str, float]:
    """Name → start time of every ``hello`` job whose name starts with ``prefix``."""
    found: dict[str, float] = {}
    if not log.exists():
        return found
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        greeting = str(event.get("greeting", ""))
        name = greeting.removeprefix("Hello, ").removesuffix("!")
        if event.get("task") == "hello" and name.startswith(prefix):
            if name in found:
                raise RuntimeError(f"job {name} started twice (at-least-once duplicate)")
            found[name] = float(event["at"])
    return found


def wait_for(log: Path, prefix: str, count: int) -> dict[str, float]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        found = started_at(log, prefix)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(found)} of {count} '{prefix}' jobs started in time")
        time.sleep(0.2)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def measure_backend(name: str, app: Path, folder: Path, jobs: int) -> list[str]:
    log = folder / f"{name}-jobs.jsonl"
    emulator_log = folder / f"{name}-emulator.log"
    extra = ["--stack", STACKS[name], "--quiet-functions", "--env", f"LAMBDA_JOBS_DEMO_LOG={log}"]
    with EmulatorProcess(app, log_path=emulator_log, extra_args=extra) as emulator:
        os.environ["LAMBDA_JOBS_CONFIG"] = emulator.configs[name]
        os.environ.pop("AWS_ENDPOINT_URL", None)
        aws.reset()
        hello = demo_tasks.hello
        hello.enqueue(name="warm-up")
        wait_for(log, "warm-up", 1)

        enqueued: dict[str, float] = {}
        for index in range(LATENCY_JOBS):
            job = f"lat-{index:04d}"
            enqueued[job] = time.time()
            hello.enqueue(name=job)
            time.sleep(LATENCY_PACING_SECONDS)
        starts = wait_for(log, "lat-", LATENCY_JOBS)
        latency_ms = [(starts[job] - enqueued[job]) * 1000 for job in enqueued]
        print(f"  end-to-end {name}: latency done", file=sys.stderr, flush=True)

        began = time.time()
        enqueue_many(hello.prepare(name=f"burst-{index:05d}") for index in range(jobs))
        sent = time.time()
        burst = wait_for(log, "burst-", jobs)
        last = max(burst.values())
        burst_ms = [(at - began) * 1000 for at in burst.values()]
        waiting = sum(1 for at in burst.values() if at > sent)
        print(f"  end-to-end {name}: burst done", file=sys.stderr, flush=True)
    return [
        name.capitalize(),
        f"**{median(latency_ms):.0f}**",
        f"**{p99(latency_ms):.0f}**",
        f"{(sent - began) * 1000:,.0f}",
        f"{waiting:,}",
        f"**{jobs / (last - began):,.0f}**",
        f"{median(burst_ms):,.0f}",
        f"{p99(burst_ms):,.0f}",
    ]


def measure(jobs: int, app: Path | None) -> Section:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        assembly = app or synthesize(folder / "cdk.out")
        rows = [measure_backend(name, assembly, folder, jobs) for name in STACKS]
    table: Table = {
        "title": f"Enqueue to task start, per backend ({LATENCY_JOBS} paced jobs; burst of {jobs})",
        "columns": [
            "backend",
            "latency p50 ms",
            "latency p99 ms",
            f"enqueue_many({jobs}) ms",
            "not started when it returned",
            "burst jobs/s",
            "burst start p50 ms",
            "burst start p99 ms",
        ],
        "rows": rows,
    }
    return {
        "title": "4. End to end under `lambda-jobs local`",
        "method": (
            "The demo app synthesized, each backend under its own `lambda-jobs local` (moto + "
            "awslambdaric processes, the template's concurrency), functions' own output off. "
            f"Latency: {LATENCY_JOBS} `hello.enqueue()` calls {LATENCY_PACING_SECONDS * 1000:.0f} "
            "ms apart, each measured from the start of its call to the task's first line "
            f"(wall clock). Throughput: {jobs} jobs in one `enqueue_many`, from the call's start "
            "to the last job's start. Every job must start exactly once. These are the "
            "emulator's figures on this machine (moto and the functions share its 2 cores), "
            "not AWS's."
        ),
        "tables": [table],
        "goals": [],
        "notes": [
            "On Goat, the burst measures moto more than lambda-jobs: moto's `SendMessageBatch` "
            "cost grows with the messages already queued (benchmark 3, last table), and a burst "
            "fills the queue faster than the functions drain it (see the jobs not yet started "
            "when `enqueue_many` returned), so each later batch is slower to send and to "
            "receive. Lamb sends one `Invoke` per job to the emulator's Invoke API instead.",
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--app", type=Path, help="an existing cloud assembly (skips cdk synth)")
    args = parser.parse_args()
    write_section(args.out, measure(args.jobs, args.app))


if __name__ == "__main__":
    main()
