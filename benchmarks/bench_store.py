"""Benchmark (job store): what the store costs at enqueue and per handled record, on vs off.

Against one moto server (real HTTP; SQS and DynamoDB), in this process:

- **enqueue**: one ``Task.enqueue`` of a no-op job to a Goat queue, store off (``SendMessage``)
  vs store on (``PutItem`` + ``SendMessage``), vs raw boto3 ``send_message`` of the same body;
- **per record**: the Goat handler on a batch of 10 fresh no-op envelopes, store off vs on (on:
  a conditional claim and an outcome write per record).

Contenders take turns repeat after repeat; each figure is the median repeat per call or record.
The figures measure moto's latency as much as lambda-jobs' (a moto round trip costs about a
millisecond here; DynamoDB in-region is single-digit milliseconds): they say how many requests
the store adds, not what they cost in AWS. Run from the repository root::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_store.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from bench_sqs_records import QUEUE_ARN, noop_event

REGION = "us-east-1"
TABLE = "jobs-store"  # tests.runtime.job_table.TABLE, which make_table creates


def _config(queue_url: str, moto_url: str, *, store: bool) -> str:
    document: dict[str, Any] = {
        "version": 1,
        "backend": "goat",
        "region": REGION,
        "queues": {
            "default": {
                "fifo": False,
                "lanes": [
                    {
                        "min_priority": -100,
                        "max_priority": 100,
                        "target": queue_url,
                        "arn": QUEUE_ARN,
                    }
                ],
            }
        },
        "dead_letter_queue": {"url": queue_url, "arn": QUEUE_ARN},
        "scheduler": None,
        "endpoints": {"sqs": moto_url, "dynamodb": moto_url},
    }
    if store:
        document["job_store"] = {"table": TABLE, "ttl_seconds": 3600}
    return json.dumps(document)


def _timed(fn: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats, calls = (3, 20) if args.quick else (7, 60)

    from lambda_jobs import aws
    from lambda_jobs.emulator.motoserver import MotoServer

    from tests.runtime.job_table import make_table

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_JOBS_TASKS": "bench_tasks",
    }.items():
        os.environ[key] = value
    with MotoServer() as moto:
        os.environ["AWS_ENDPOINT_URL"] = moto.url
        import boto3

        sqs = boto3.client("sqs", endpoint_url=moto.url, region_name=REGION)
        make_table(moto)
        from bench_tasks import noop
        from lambda_jobs.worker.claims import WorkerStore
        from lambda_jobs.worker.coldstart import cold_start
        from lambda_jobs.worker.goat import handle_batch

        from tests.runtime.lambda_events import Context

        configs: dict[bool, str] = {}
        current = {"url": ""}

        def fresh_queue(index: int) -> None:
            """A new, empty queue per repeat (moto's send cost grows with the queue's depth)."""
            url = sqs.create_queue(QueueName=f"bench-default-{index}")["QueueUrl"]
            current["url"] = url
            for store in (False, True):
                configs[store] = _config(url, moto.url, store=store)

        body = noop.prepare().task.name

        def enqueue(store: bool) -> Callable[[], Any]:
            def run() -> Any:
                os.environ["LAMBDA_JOBS_CONFIG"] = configs[store]
                return noop.enqueue()

            return run

        raw_body = json.dumps({"lambda_jobs": 1, "id": "x", "task": body})
        contenders_enqueue = {
            "raw boto3 send_message": lambda: sqs.send_message(
                QueueUrl=current["url"], MessageBody=raw_body
            ),
            "enqueue, store off": enqueue(False),
            "enqueue, store on": enqueue(True),
        }
        runtime_off = cold_start({"LAMBDA_JOBS_TASKS": "bench_tasks"})
        runtime_on = cold_start({"LAMBDA_JOBS_TASKS": "bench_tasks"})
        runtime_on.store = WorkerStore(TABLE, 3600)
        context = Context(remaining_ms=900_000)

        def batch(runtime: Any) -> Callable[[], Any]:
            def run() -> Any:
                return handle_batch(noop_event(10), context, runtime)

            return run

        contenders_record = {
            "handler per record, store off": batch(runtime_off),
            "handler per record, store on": batch(runtime_on),
        }
        aws.reset()
        results: dict[str, list[float]] = {}
        stdout = sys.stdout
        for index in range(repeats):
            fresh_queue(index)
            for name, fn in contenders_enqueue.items():
                results.setdefault(name, []).append(_timed(fn, calls))
            sys.stdout = io.StringIO()  # the handler's log lines
            try:
                for name, fn in contenders_record.items():
                    results.setdefault(name, []).append(_timed(fn, max(calls // 10, 3)) / 10)
            finally:
                sys.stdout = stdout
    print("| contender | median per call (ms) |")
    print("|---|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values) * 1000:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
