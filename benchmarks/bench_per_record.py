"""Benchmark 2: the handler's cost per record of a 10-record SQS batch of no-op jobs.

Contenders, each handling the same batch (the no-op task's function is the task body in all):

- **bare loop**: ``for record in event["Records"]: noop()``: the floor.
- **Powertools**: ``process_partial_response`` with a ``BatchProcessor(EventType.SQS)`` and a
  record handler that calls the no-op: Powertools' bare batch utility, no logging.
- **lambda-jobs**: ``lambda_jobs.handler.handle``: decoding the envelope, the allow-list, the
  attempt count, the deadline check, the per-job time limit, the call, and the job's JSON log line
  (and the batch's metrics line) written to ``sys.stdout`` and flushed. ``sys.stdout`` is a file
  opened on ``/dev/null`` during the measurement, so each line costs its ``json.dumps`` and a real
  ``write(2)``.

Each repeat times a run of batches with ``time.perf_counter``; contenders take turns repeat after
repeat; the figure is the median repeat, divided by the records it handled.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench_results import Goal, Section, median, paired_ratio, quartiles, write_section
from bench_sqs_records import noop_event

from tests.runtime.lambda_events import Context

BATCH = 10
#: The issue's goal: lambda-jobs' per-record cost, all in.
GOAL_US = 20.0


def contenders(event: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    os.environ["LAMBDA_JOBS_TASKS"] = "bench_tasks"
    handler = importlib.import_module("lambda_jobs.handler")
    from bench_tasks import noop

    body = noop.func
    batch = importlib.import_module("aws_lambda_powertools.utilities.batch")
    processor = batch.BatchProcessor(event_type=batch.EventType.SQS)
    process_partial_response = batch.process_partial_response
    context = Context(remaining_ms=900_000)

    def bare_loop() -> None:
        for _record in event["Records"]:
            body()

    def powertools() -> Any:
        return process_partial_response(
            event=event,
            record_handler=lambda record: body(),
            processor=processor,
            context=context,
        )

    def lambda_jobs() -> Any:
        return handler.handle(event, context)

    return {
        "bare loop": bare_loop,
        "Powertools `process_partial_response`": powertools,
        "lambda-jobs `handler.handle`": lambda_jobs,
    }


def check(runs: dict[str, Callable[[], Any]]) -> None:
    """Every contender handles the batch without a failure; lambda-jobs logs 10 successes."""
    captured = io.StringIO()
    saved, sys.stdout = sys.stdout, captured
    try:
        results = {name: run() for name, run in runs.items()}
    finally:
        sys.stdout = saved
    for name, result in results.items():
        if result is not None and result != {"batchItemFailures": []}:
            raise RuntimeError(f"{name} reported failures: {result}")
    successes = captured.getvalue().count('"outcome": "succeeded"')
    if successes != BATCH:
        raise RuntimeError(f"lambda-jobs logged {successes} successes for {BATCH} records")


def measure(repeats: int, batches: int) -> Section:
    event = noop_event(BATCH)
    runs = contenders(event)
    check(runs)
    names = list(runs)
    per_record_us: dict[str, list[float]] = {name: [] for name in names}
    saved = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        sys.stdout = devnull
        try:
            for name in names:  # warm-up
                for _ in range(batches // 4):
                    runs[name]()
            for index in range(repeats):
                for name in names[index % len(names) :] + names[: index % len(names)]:
                    run = runs[name]
                    gc.collect()
                    started = time.perf_counter()
                    for _ in range(batches):
                        run()
                    elapsed = time.perf_counter() - started
                    per_record_us[name].append(elapsed / (batches * BATCH) * 1e6)
        finally:
            sys.stdout = saved
    parts = components(event, batches * BATCH)
    parts_us = sum(float(row[1]) for row in parts)
    bare = median(per_record_us["bare loop"])
    powertools_name = "Powertools `process_partial_response`"
    ours = median(per_record_us["lambda-jobs `handler.handle`"])
    rows = []
    for name in names:
        values = per_record_us[name]
        q1, q3 = quartiles(values)
        rows.append(
            [
                name,
                f"**{median(values):.2f}**",
                f"{q1:.2f}..{q3:.2f}",
                f"{median(values) - bare:.2f}",
                f"{paired_ratio(values, per_record_us[powertools_name]):.2f}x",
            ]
        )
    goals: list[Goal] = [
        {
            "goal": f"lambda-jobs under {GOAL_US:g} µs a record, all in (log line included)",
            "measured": f"{ours:.1f} µs",
            "met": ours < GOAL_US,
        }
    ]
    return {
        "title": "2. Per-record overhead (10-record SQS batch of no-op jobs)",
        "method": (
            f"{repeats} interleaved repeats of {batches} batches per contender after a warm-up; "
            "median repeat ÷ records; ratios are the median of per-repeat ratios. The no-op "
            "task body is called by every contender. "
            "lambda-jobs' output (its JSON line per job and its metrics line per batch, with "
            "default settings) goes to `sys.stdout` replaced by a file on `/dev/null`: a real "
            "`write(2)` per flushed line. Powertools logs nothing. The Lambda context is a "
            "stand-in with the deadline method awslambdaric's has (15 minutes left)."
        ),
        "tables": [
            {
                "title": "Per record, µs",
                "columns": [
                    "contender",
                    "µs / record",
                    "q1..q3",
                    "over bare loop",
                    "x Powertools",
                ],
                "rows": rows,
            },
            {
                "title": "Parts of lambda-jobs' per-record work, each timed alone (µs per call)",
                "columns": ["part", "µs"],
                "rows": parts,
            },
        ],
        "goals": goals,
        "notes": [
            f"The three parts timed alone add up to {parts_us:.1f} of lambda-jobs' {ours:.1f} µs "
            "a record; the rest is its per-record bookkeeping (allow-list, options, attempt, "
            "deadline check, outcome, metrics).",
        ],
    }


def per_call_us(call: Callable[[], Any], count: int) -> float:
    """µs per ``call()``, median of 5 runs of ``count`` calls, with stdout on ``/dev/null``."""
    timings = []
    saved = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        sys.stdout = devnull
        try:
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(count):
                    call()
                timings.append((time.perf_counter() - started) / count * 1e6)
        finally:
            sys.stdout = saved
    return median(timings)


def components(event: dict[str, Any], count: int) -> list[list[str]]:
    """Three parts of lambda-jobs' per-record work, each timed alone (µs per call)."""
    from lambda_jobs.envelope import from_json
    from lambda_jobs.worker.joblog import log_job
    from lambda_jobs.worker.timelimit import TimeLimit

    body = event["Records"][0]["body"]
    fields: dict[str, Any] = {
        "job_id": "0b7f8c8e-7a4c-4f57-9a43-3f2ad1c1e0f1",
        "task": "bench_tasks.noop",
        "queue": "default",
        "attempt": 1,
        "max_attempts": 1,
        "outcome": "succeeded",
        "duration_ms": 0.004,
        "message_id": "6e2a7c62-2c0b-4a4c-9f2e-8e5a9e0b9d11",
    }

    def time_limit() -> None:
        with TimeLimit(898.0, "stopped before the deadline"):
            pass

    parts = {
        "decode the envelope (`envelope.from_json`)": lambda: from_json(body),
        "arm and disarm the time limit (`TimeLimit`, SIGALRM timer)": time_limit,
        "one job log line (`joblog.log_job`, to `/dev/null`)": lambda: log_job(**fields),
    }
    return [[name, f"{per_call_us(call, count):.2f}"] for name, call in parts.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--batches", type=int, default=300)
    args = parser.parse_args()
    write_section(args.out, measure(args.repeats, args.batches))


if __name__ == "__main__":
    main()
