"""Benchmark 7: what a limit costs a job: DynamoDB requests and the handler's time, per record.

Against one moto server process (SQS and DynamoDB over real HTTP, as ``tests/conftest.py`` starts
it), in this process: the Goat handler (:func:`lambda_jobs.worker.dispatch.dispatch`, with the
runtime cold start gives it, the job store on) on batches of 10 no-op jobs really enqueued and
received from a moto queue, one contender per task of ``bench_limits_tasks``:

- no limits (the baseline: claim and outcome);
- a ``Concurrency`` slot that is free (a read, the slot's write, the give-back);
- a ``Rate`` start with room (a read, a write);
- a ``Concurrency`` slot whose item lists the most waiters it keeps (20) ahead (the fairness
  bookkeeping: each grant passes them over, rewriting a ~1.2 KB item);
- a job refused by a full ``Concurrency``, its first refusal (the wait: a read, the waiter's
  entry, a delayed copy sent to the queue instead of the run; a later refusal within 15 s writes
  nothing).

Contenders take turns repeat after repeat; figures are medians over repeats, ratios the median of
per-repeat ratios against the baseline measured in the same repeat. The time inside the store's
HTTP requests is subtracted as in benchmark 6 (``bench_store.RequestMeter``); SQS requests (the
refused job's copy) stay in.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from typing import Any

from bench_results import Section, median, paired_ratio, quartiles, write_section
from bench_store import RequestMeter, timed, use_moto_environment
from lambda_jobs import aws, enqueue_many
from lambda_jobs.jobstore.limits import MAX_WAITERS
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev
from tests.runtime.enqueue_backends import config_document, lane
from tests.runtime.job_table import TABLE, make_table

BATCH = 10
WAITERS = MAX_WAITERS  # the most a limit's item keeps
TASKS = "bench_limits_tasks"

CONTENDERS = {
    "free_noop": "no limits (baseline, store on)",
    "slot_noop": "`Concurrency`, a slot free",
    "paced_noop": "`Rate`, room in the window",
    "crowded_noop": f"`Concurrency`, a slot free, {WAITERS} waiters listed ahead",
    "full_noop": "`Concurrency` full: the job waits (first refusal, hand-back copy)",
}


class Bench:
    """The moto queue and table, the client configuration and the worker's runtime."""

    def __init__(self, server: MotoServer) -> None:
        from lambda_jobs.worker.coldstart import cold_start

        self.sqs = boto_client(server, "sqs")
        self.dynamodb = make_table(server)
        self.queues = {
            name: ev.make_queue(self.sqs, f"bench-limits-{name}", visibility=30)
            for name in ("default", "waiting")
        }
        dlq_url, _ = ev.make_queue(self.sqs, "bench-limits-dlq")
        os.environ["LAMBDA_JOBS_DLQ_URL"] = dlq_url
        queues = {
            name: {"fifo": False, "lanes": [lane(-100, 100, url, arn)]}
            for name, (url, arn) in self.queues.items()
        }
        os.environ["LAMBDA_JOBS_CONFIG"] = json_config(server.url, queues)
        self.runtime = cold_start(
            {
                "LAMBDA_JOBS_TASKS": TASKS,
                "LAMBDA_JOBS_BACKEND": "goat",
                "LAMBDA_JOBS_JOB_TABLE": TABLE,
            }
        )
        assert self.runtime.store is not None
        self.meter = RequestMeter("dynamodb")
        self.meter.watch(self.runtime.store.client)
        self.context = ev.Context(remaining_ms=900_000)
        far = time.time() + 10**7
        self.hold_the_full_slot()
        self.dynamodb.put_item(  # waiters that never come back while the benchmark runs
            TableName=TABLE,
            Item={
                "pk": {"S": "limit#bench-lim-waiters"},
                "waiting": {
                    "M": {
                        f"{index:08d}-0000-4000-8000-000000000000": {
                            "L": [{"N": str(time.time() - 60)}, {"N": "0"}, {"N": str(far)}]
                        }
                        for index in range(WAITERS)
                    }
                },
                "v": {"N": "1"},
            },
        )

    def hold_the_full_slot(self) -> None:
        """Another attempt holds full_noop's only slot, and nobody waits for it yet (so each
        refusal measured is a job's first: it enters the waiters)."""
        self.dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": "limit#bench-lim-full"},
                "holders": {"M": {"elsewhere/req": {"N": str(time.time() + 10**7)}}},
                "v": {"N": "1"},
            },
        )

    def batch(self, task: Any) -> Any:
        """Handle a batch of ``task``'s jobs; its :class:`bench_store.Timing`."""
        if task.queue_name == "waiting":
            self.hold_the_full_slot()
        enqueue_many(task.prepare() for _ in range(BATCH))
        url, arn = self.queues[task.queue_name]
        event = ev.sqs_event(self.sqs, url, arn, BATCH)
        from lambda_jobs.worker.dispatch import dispatch

        timing, result = timed(self.meter, lambda: dispatch(event, self.context, self.runtime))
        if result != {"batchItemFailures": []}:
            raise RuntimeError(f"{task.name}: the batch reported failures: {result}")
        ev.settle(self.sqs, url, event, result)
        return timing


def json_config(url: str, queues: dict[str, Any]) -> str:
    import json

    endpoints = {"sqs": url, "dynamodb": url}
    return json.dumps(
        config_document(
            "goat",
            queues,
            scheduler=False,
            endpoints=endpoints,
            job_store={"table": TABLE, "ttl_seconds": 3600},
        )
    )


#: contender -> metric -> one value per repeat (seconds per record; requests per record).
Figures = dict[str, dict[str, list[float]]]


def measure(repeats: int, batches: int) -> Section:
    import bench_limits_tasks

    use_moto_environment()
    figures: Figures = {
        name: {"all in": [], "excl": [], "cpu": [], "req": []} for name in CONTENDERS
    }
    with MotoServer() as server:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        aws.reset()
        bench = Bench(server)
        names = list(CONTENDERS)
        for index in range(repeats + 1):  # the first repeat warms up and is dropped
            order = names if index % 2 else names[::-1]
            sums = {name: [0.0, 0.0, 0.0, 0] for name in names}
            for _ in range(batches):
                for name in order:
                    gc.collect()
                    timing = bench.batch(getattr(bench_limits_tasks, name))
                    total = sums[name]
                    total[0] += timing.wall
                    total[1] += timing.wall - timing.inside
                    total[2] += timing.cpu
                    total[3] += timing.requests
                # The refused jobs' delayed copies (on their own queue) are never received.
                bench.sqs.purge_queue(QueueUrl=bench.queues["waiting"][0])
            if index:
                count = batches * BATCH
                for name, (wall, excl, cpu, requests) in sums.items():
                    figures[name]["all in"].append(wall / count)
                    figures[name]["excl"].append(excl / count)
                    figures[name]["cpu"].append(cpu / count)
                    figures[name]["req"].append(requests / count)
            print(f"  limits: repeat {index}/{repeats}", file=sys.stderr, flush=True)
    base = figures["free_noop"]
    rows = []
    for name, label in CONTENDERS.items():
        values = figures[name]
        q1, q3 = quartiles([v * 1e6 for v in values["excl"]])
        rows.append(
            [
                label,
                f"**{median(values['req']):g}**",
                f"{median(values['all in']) * 1e6:,.0f}",
                f"**{median(values['excl']) * 1e6:,.0f}**",
                f"{q1:,.0f}..{q3:,.0f}",
                f"{median(values['cpu']) * 1e6:,.0f}",
                f"{paired_ratio(values['excl'], base['excl']):.2f}x",
            ]
        )
    return {
        "title": "7. Flow control: what a limit costs a job",
        "method": (
            "One moto server process, the table as the `JobStore` construct defines it. Batches "
            f"of {BATCH} no-op jobs really enqueued and received from a moto queue, handed to the "
            "Goat handler with the job store on; one contender per task (`bench_limits_tasks`), "
            f"{repeats} repeats of {batches} batches each after a warm-up repeat, the order "
            "reversed every other repeat; job lines to `/dev/null`. DynamoDB requests counted "
            "from the requests botocore sent; the time inside them subtracted as in benchmark 6 "
            "(SQS requests stay in: the refused job's copy); medians over repeats, ratios the "
            "median of per-repeat ratios against no limits."
        ),
        "tables": [
            {
                "title": f"Goat handler per record (batches of {BATCH}), job store on",
                "columns": [
                    "contender",
                    "DynamoDB requests per job",
                    "all in µs",
                    "DynamoDB HTTP excluded µs",
                    "q1..q3",
                    "CPU µs",
                    "x no limits (HTTP excl.)",
                ],
                "rows": rows,
            }
        ],
        "goals": [],
        "notes": [
            "A limit adds its read and write before the claim (a `Concurrency` one more write "
            "to give the slot back after the outcome): the requests column is exact, the times "
            "are lambda-jobs' and botocore's work on the function's CPU around them; DynamoDB's "
            "own latency (single-digit ms a request) comes on top in AWS, in sequence.",
            f"With {WAITERS} waiters listed, each grant rewrites the waiters' map (about 1.2 KB): "
            "more bytes to build and parse, and 2 write units a grant in AWS instead of 1 "
            "(docs/guide/limits.md, cost per million).",
            "A refused job runs nothing: its record costs the read (and, on its first refusal, "
            "the waiter's entry) and a `SendMessage` of the delayed copy.",
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=7, help="repeats of every contender")
    parser.add_argument("--batches", type=int, default=3, help="batches of 10 per repeat")
    args = parser.parse_args()
    write_section(args.out, measure(args.repeats, args.batches))


if __name__ == "__main__":
    main()
