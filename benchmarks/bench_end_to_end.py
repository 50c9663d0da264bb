"""Benchmark 4: end-to-end latency and throughput under ``lambda-jobs local``, per backend.

The demo app is synthesized (``cdk synth``, as the end-to-end tests do) and each demo backend runs
under its own ``lambda-jobs local`` child process (moto for SQS, Lambda functions as awslambdaric
processes). Jobs are the demo's ``hello`` task: it does no work but append one JSON line with
``time.time()`` to ``LAMBDA_JOBS_DEMO_LOG`` when it starts, which is how the task's start is seen.

- **latency**: jobs enqueued one at a time with ``Task.enqueue``, paced below capacity; each job's
  latency is its start minus the moment its ``enqueue`` call began. Median and p99.
- **throughput**: ``--jobs`` jobs (1,000 by default) in one ``enqueue_many`` call; jobs per second
  from the call's start to the last job's start, plus the latency percentiles under that burst.

Each backend runs twice, as the demo stack is (job store on: a ``PutItem`` per enqueue, a claim and
an outcome write per job, all to moto) and with the job store off (``--env
LAMBDA_JOBS_JOB_TABLE=`` for the functions, the client configuration without ``job_store``), so
the store's share of the latency is measured rather than guessed.

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
from lambda_jobs.contract import JOB_TABLE_ENV
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import STACKS, demo_tasks, synthesize

LATENCY_JOBS = 100
LATENCY_PACING_SECONDS = 0.05
DEADLINE_SECONDS = 300.0  # a no-loss check, not a timing goal: moto may be slow under load


def started_at(log: Path, prefix: str) -> dict[str, float]:
    """Name → start time of every ``hello`` job whose name starts with ``prefix``."""
    found: dict[str, float] = {}
    if not log.exists():
        return found
    # Only whole lines: a function may be writing the last one as we read (no trailing newline).
    for line in log.read_text(encoding="utf-8").split("\n")[:-1]:
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


#: Variants of each backend: the demo stack as synthesized, and the same with the job store off.
STORE_ON = "on (demo stack)"
STORE_OFF = "off"
STORE_OFF_ARGS = ["--env", f"{JOB_TABLE_ENV}="]


def without_store(config: str) -> str:
    """The client configuration ``config`` without its ``job_store`` (enqueue writes no item)."""
    document = json.loads(config)
    document.pop("job_store", None)
    return json.dumps(document)


class Run:
    """The figures of one backend in one variant (milliseconds unless named otherwise)."""

    def __init__(
        self,
        backend: str,
        store: bool,
        latency_ms: list[float],
        call_ms: list[float],
        *,
        jobs: int,
        send_ms: float,
        waiting: int,
        burst_seconds: float,
        burst_ms: list[float],
    ) -> None:
        self.backend = backend
        self.store = store
        self.latency_ms = latency_ms
        self.call_ms = call_ms
        self.after_call_ms = [lat - call for lat, call in zip(latency_ms, call_ms, strict=True)]
        self.jobs = jobs
        self.send_ms = send_ms
        self.waiting = waiting
        self.burst_rate = jobs / burst_seconds
        self.burst_ms = burst_ms

    def row(self) -> list[str]:
        return [
            self.backend.capitalize(),
            STORE_ON if self.store else STORE_OFF,
            f"**{median(self.latency_ms):.0f}**",
            f"**{p99(self.latency_ms):.0f}**",
            f"{median(self.call_ms):.0f}",
            f"{median(self.after_call_ms):.0f}",
            f"{self.send_ms:,.0f}",
            f"{self.waiting:,}",
            f"**{self.burst_rate:,.0f}**",
            f"{median(self.burst_ms):,.0f}",
            f"{p99(self.burst_ms):,.0f}",
        ]


def measure_backend(name: str, app: Path, folder: Path, jobs: int, *, store: bool) -> Run:
    label = f"{name}-store-{'on' if store else 'off'}"
    log = folder / f"{label}-jobs.jsonl"
    emulator_log = folder / f"{label}-emulator.log"
    extra = ["--stack", STACKS[name], "--quiet-functions", "--env", f"LAMBDA_JOBS_DEMO_LOG={log}"]
    if not store:
        extra += STORE_OFF_ARGS
    with EmulatorProcess(app, log_path=emulator_log, extra_args=extra) as emulator:
        config = emulator.configs[name]
        if store and "job_store" not in json.loads(config):
            raise RuntimeError(f"the {name} demo stack has no job store: nothing to compare")
        os.environ["LAMBDA_JOBS_CONFIG"] = config if store else without_store(config)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        aws.reset()
        hello = demo_tasks.hello
        hello.enqueue(name="warm-up")
        wait_for(log, "warm-up", 1)

        enqueued: dict[str, float] = {}
        call_ms: list[float] = []
        for index in range(LATENCY_JOBS):
            job = f"lat-{index:04d}"
            enqueued[job] = time.time()
            started = time.perf_counter()
            hello.enqueue(name=job)
            call_ms.append((time.perf_counter() - started) * 1000)
            time.sleep(LATENCY_PACING_SECONDS)
        starts = wait_for(log, "lat-", LATENCY_JOBS)
        latency_ms = [(starts[job] - enqueued[job]) * 1000 for job in enqueued]
        print(f"  end-to-end {label}: latency done", file=sys.stderr, flush=True)

        began = time.time()
        enqueue_many(hello.prepare(name=f"burst-{index:05d}") for index in range(jobs))
        sent = time.time()
        burst = wait_for(log, "burst-", jobs)
        print(f"  end-to-end {label}: burst done", file=sys.stderr, flush=True)
    return Run(
        name,
        store,
        latency_ms,
        call_ms,
        jobs=jobs,
        send_ms=(sent - began) * 1000,
        waiting=sum(1 for at in burst.values() if at > sent),
        burst_seconds=max(burst.values()) - began,
        burst_ms=[(at - began) * 1000 for at in burst.values()],
    )


def store_note(on: Run, off: Run) -> str:
    """What the job store adds to one backend's latency, split at the enqueue call's return."""
    added = median(on.latency_ms) - median(off.latency_ms)
    in_call = median(on.call_ms) - median(off.call_ms)
    after = median(on.after_call_ms) - median(off.after_call_ms)
    return (
        f"{on.backend.capitalize()}: the job store adds {added:.0f} ms to the median latency "
        f"({median(off.latency_ms):.0f} → {median(on.latency_ms):.0f} ms; p99 "
        f"{p99(off.latency_ms):.0f} → {p99(on.latency_ms):.0f} ms): {in_call:.0f} ms inside "
        "the enqueue call (its `PutItem`) and "
        f"{after:.0f} ms after it (the worker's claim, a conditional `UpdateItem`, before the "
        f"task starts); the burst runs at {on.burst_rate:,.0f} jobs/s with the store against "
        f"{off.burst_rate:,.0f} without."
    )


def measure(jobs: int, app: Path | None) -> Section:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        assembly = app or synthesize(folder / "cdk.out")
        runs = {
            (name, store): measure_backend(name, assembly, folder, jobs, store=store)
            for name in STACKS
            for store in (True, False)
        }
    table: Table = {
        "title": f"Enqueue to task start, per backend ({LATENCY_JOBS} paced jobs; burst of {jobs})",
        "columns": [
            "backend",
            "job store",
            "latency p50 ms",
            "latency p99 ms",
            "enqueue call p50 ms",
            "after the call p50 ms",
            f"enqueue_many({jobs}) ms",
            "not started when it returned",
            "burst jobs/s",
            "burst start p50 ms",
            "burst start p99 ms",
        ],
        "rows": [run.row() for run in runs.values()],
    }
    return {
        "title": "4. End to end under `lambda-jobs local`",
        "method": (
            "The demo app synthesized, each backend under its own `lambda-jobs local` (moto + "
            "awslambdaric processes, the template's concurrency), functions' own output off. "
            "Each backend runs twice: as the demo stack is (job store on) and with the job store "
            f"off (`lambda-jobs local --env {JOB_TABLE_ENV}=` for the functions, the client "
            "configuration without `job_store` for the enqueue side). "
            f"Latency: {LATENCY_JOBS} `hello.enqueue()` calls {LATENCY_PACING_SECONDS * 1000:.0f} "
            "ms apart, each measured from the start of its call to the task's first line "
            "(wall clock), and split at the moment the call returned (enqueue call / after the "
            f"call, medians of each part). Throughput: {jobs} jobs in one `enqueue_many`, from "
            "the call's start to the last job's start. Every job must start exactly once. These "
            "are the emulator's figures on this machine (moto and the functions share its 2 "
            "cores), not AWS's."
        ),
        "tables": [table],
        "goals": [],
        "notes": [
            *(store_note(runs[(name, True)], runs[(name, False)]) for name in STACKS),
            "Those milliseconds are moto's: every DynamoDB request of the emulator goes to the one "
            "moto process, whose conditional `UpdateItem` costs it tens of milliseconds of CPU "
            "(benchmark 6, last table). With three DynamoDB requests a job (`PutItem`, claim, "
            "outcome) moto is the bottleneck: requests queue behind each other, hence the p99 "
            "and the burst rate. In AWS these are DynamoDB requests of single-digit milliseconds "
            "each.",
            "The emulator's SQS front (`emulator/sqs_front.py`) is not on these jobs' path: the "
            "event-source mapping pollers receive and delete through moto directly, and a job "
            "that succeeds makes no SQS request from the function (the front carries the "
            "functions' hand-backs, dead letters and the jobs that tasks enqueue). The store-off "
            "rows therefore show the latency without the job store's requests.",
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
