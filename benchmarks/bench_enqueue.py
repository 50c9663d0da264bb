"""Benchmark 3: enqueue throughput against a moto server (real HTTP, one queue).

Bulk: ``lambda_jobs.enqueue_many`` against a raw boto3 ``send_message_batch`` loop with one reused
client (the floor any client pays: bodies prebuilt, no validation) and against a new boto3 client
per message (the naive adapter). A raw ``send_message_batch`` run from 8 threads sharing one client
is shown as a reference, since ``enqueue_many`` sends its batches 8 at a time.

Single: ``Task.enqueue`` against a raw ``send_message`` loop with one reused client.

The signature check (``Task.prepare`` binds the arguments to the function's signature) is part of
every lambda-jobs contender; its own cost is also timed in-process, per job, for a task with a
typical signature, against the same task declared with ``check_arguments=False``.

Every contender sends the same number of messages of the same size (a no-op job's envelope) per
round; rounds are interleaved (the order rotates) and the queue is purged before each contender,
because moto's send cost grows with queue depth. After each contender the queue must hold exactly
the messages it sent, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bench_results import Goal, Section, Table, median, paired_ratio, quartiles, write_section
from bench_tasks import NOOP_NAME, noop
from lambda_jobs.envelope import Envelope
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import REGION, boto_client
from tests.runtime.enqueue_backends import config_document, lane
from tests.runtime.lambda_events import make_queue

BATCH = 10
THREADS = 8
GOAL_OF_RAW = 0.9
GOAL_OF_NAIVE = 10.0

Sender = Callable[[int], None]


def bodies(count: int) -> list[str]:
    """``count`` envelopes of the no-op job, as lambda-jobs would send them."""
    now = datetime.now(UTC)
    return [
        Envelope(id=f"{index:08d}-raw", task=NOOP_NAME, enqueued_at=now).to_json()
        for index in range(count)
    ]


class Contenders:
    """Each method sends ``count`` messages to the queue by one means."""

    def __init__(self, server: MotoServer, url: str, count: int) -> None:
        self.server = server
        self.url = url
        self.sqs = boto_client(server, "sqs")
        self.bodies = bodies(count)

    def enqueue_many(self, count: int) -> None:
        from lambda_jobs import enqueue_many

        enqueue_many(noop.prepare() for _ in range(count))

    def _batch(self, sqs: Any, chunk: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"raw batch refused: {response['Failed']}")

    def raw_batch_loop(self, count: int) -> None:
        for start in range(0, count, BATCH):
            self._batch(self.sqs, self.bodies[start : min(start + BATCH, count)])

    def raw_batch_threads(self, count: int) -> None:
        chunks = [self.bodies[s : min(s + BATCH, count)] for s in range(0, count, BATCH)]
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(lambda chunk: self._batch(self.sqs, chunk), chunks))

    def naive_client_per_message(self, count: int) -> None:
        for body in self.bodies[:count]:
            boto_client(self.server, "sqs").send_message(QueueUrl=self.url, MessageBody=body)

    def task_enqueue(self, count: int) -> None:
        for _ in range(count):
            noop.enqueue()

    def raw_send_message(self, count: int) -> None:
        for body in self.bodies[:count]:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)


def check_cost(repeats: int = 21, calls: int = 2000) -> tuple[float, float]:
    """µs per ``prepare`` of a three-parameter task, with and without the signature check."""
    from lambda_jobs.tasks import Task

    def typical(order_id: int, email: str, *, notify: bool = True) -> None:
        """A job function of the usual shape: an id, a value, a keyword flag."""

    checked: Task[..., None] = Task(func=typical, name="bench.typical")
    unchecked: Task[..., None] = Task(func=typical, name="bench.typical", check_arguments=False)
    checked.prepare(1, "a@example.com", notify=False)  # reads and caches the signature

    def per_call(task: Task[..., Any]) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            task.prepare(1, "a@example.com", notify=False)
        return (time.perf_counter() - started) / calls * 1e6

    with_check: list[float] = []
    without: list[float] = []
    for _ in range(repeats):
        with_check.append(per_call(checked))
        without.append(per_call(unchecked))
    return median(with_check), median(without)


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesDelayed"]
    )


def timed_rounds(
    group: dict[str, Sender], sqs: Any, url: str, *, count: int, rounds: int, label: str
) -> dict[str, list[float]]:
    """Messages per second of each sender, one figure per round; order rotates every round."""
    names = list(group)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up: clients, service models, connection pools
        sqs.purge_queue(QueueUrl=url)
        group[name](min(count, 20))
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            sqs.purge_queue(QueueUrl=url)
            if queue_depth(sqs, url) != 0:
                raise RuntimeError("the queue is not empty after a purge")
            started = time.perf_counter()
            group[name](count)
            elapsed = time.perf_counter() - started
            depth = queue_depth(sqs, url)
            if depth != count:
                raise RuntimeError(f"{name} sent {count} messages but the queue holds {depth}")
            rates[name].append(count / elapsed)
        print(f"  enqueue {label}: round {index + 1}/{rounds}", file=sys.stderr, flush=True)
    sqs.purge_queue(QueueUrl=url)
    return rates


def depth_probe(sqs: Any, url: str, depths: tuple[int, ...] = (0, 250, 500)) -> Table:
    """ms per raw ``SendMessageBatch`` of 10 as the queue fills: moto's cost grows with depth."""
    sqs.purge_queue(QueueUrl=url)
    chunk = bodies(BATCH)
    entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
    rows = []
    for depth in depths:
        while queue_depth(sqs, url) < depth:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            timings.append((time.perf_counter() - started) * 1000)
        rows.append([f"{depth:,}", f"{median(timings):.1f}"])
    sqs.purge_queue(QueueUrl=url)
    return {
        "title": "moto's cost of one raw `SendMessageBatch` of 10, by messages already queued",
        "columns": ["queue depth", "ms / request"],
        "rows": rows,
    }


def table(title: str, rates: dict[str, list[float]], count: int, baseline: str) -> Table:
    """Messages/s per contender, and each as a multiple of ``baseline`` (the raw floor)."""
    rows = []
    for name, values in rates.items():
        q1, q3 = quartiles(values)
        rows.append(
            [
                name,
                f"**{median(values):,.0f}**",
                f"{q1:,.0f}..{q3:,.0f}",
                f"{1000 / median(values):.2f}",
                f"{paired_ratio(values, rates[baseline]):.2f}x",
            ]
        )
    return {
        "title": f"{title} ({count} messages per round)",
        "columns": ["contender", "messages/s", "q1..q3", "ms / message", "x raw floor"],
        "rows": rows,
    }


def measure(bulk_count: int, single_count: int, rounds: int, single_rounds: int) -> Section:
    # Real SQS allows one purge a minute; the server inherits this and lets us drain per round.
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    with MotoServer() as server:
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
        )
        sqs = boto_client(server, "sqs")
        url, arn = make_queue(sqs, "bench-default")
        document = config_document(
            "goat",
            {"default": {"fifo": False, "lanes": [lane(-100, 100, url, arn)]}},
            scheduler=False,
            endpoints={"sqs": server.url},
        )
        os.environ["LAMBDA_JOBS_CONFIG"] = json.dumps(document)
        c = Contenders(server, url, max(bulk_count, single_count))
        raw_loop = "raw `send_message_batch` loop, one client"
        naive = "naive: new boto3 client per message"
        ours_bulk = "lambda-jobs `enqueue_many`"
        bulk = timed_rounds(
            {
                ours_bulk: c.enqueue_many,
                raw_loop: c.raw_batch_loop,
                f"reference: raw `send_message_batch`, {THREADS} threads": c.raw_batch_threads,
                naive: c.naive_client_per_message,
            },
            sqs,
            url,
            count=bulk_count,
            rounds=rounds,
            label="bulk",
        )
        raw_single = "raw `send_message` loop, one client"
        ours_single = "lambda-jobs `task.enqueue`"
        single = timed_rounds(
            {ours_single: c.task_enqueue, raw_single: c.raw_send_message},
            sqs,
            url,
            count=single_count,
            rounds=single_rounds,
            label="single",
        )
        depth_table = depth_probe(sqs, url)
    prepare_checked, prepare_unchecked = check_cost()
    check_us = prepare_checked - prepare_unchecked
    threads_floor = f"reference: raw `send_message_batch`, {THREADS} threads"
    of_threads = paired_ratio(bulk[ours_bulk], bulk[threads_floor])
    of_raw = paired_ratio(bulk[ours_bulk], bulk[raw_loop])
    of_naive = paired_ratio(bulk[ours_bulk], bulk[naive])
    floor_of_naive = paired_ratio(bulk[raw_loop], bulk[naive])
    single_of_raw = paired_ratio(single[ours_single], single[raw_single])
    goals: list[Goal] = [
        {
            "goal": f"bulk ≥ {GOAL_OF_RAW} of the raw batch loop",
            "measured": f"{of_raw:.2f}",
            "met": of_raw >= GOAL_OF_RAW,
        },
        {
            "goal": f"bulk ≥ {GOAL_OF_NAIVE:g}x the naive adapter",
            "measured": f"{of_naive:.1f}x",
            "met": of_naive >= GOAL_OF_NAIVE,
        },
        {
            "goal": f"single enqueue ≥ {GOAL_OF_RAW} of raw `send_message`",
            "measured": f"{single_of_raw:.2f}",
            "met": single_of_raw >= GOAL_OF_RAW,
        },
    ]
    return {
        "title": "3. Enqueue throughput against a moto server",
        "method": (
            f"One moto server process on loopback, one standard queue. {rounds} interleaved "
            f"rounds of the bulk group and {single_rounds} of the single group (cheaper, and "
            "noisier per round) after a warm-up; the queue is purged before each contender and "
            "checked to hold exactly the messages sent after it; median messages/s; ratios are the "
            "median of per-round ratios (contenders of a round run back to back). Raw "
            "contenders send prebuilt bodies of the same size as lambda-jobs' envelopes; "
            "lambda-jobs also validates, encodes and picks the lane for every job. The moto "
            "server shares the 2 cores with the client, so these are moto's speeds, not SQS's."
        ),
        "tables": [
            table("Bulk", bulk, bulk_count, raw_loop),
            table("Single", single, single_count, raw_single),
            depth_table,
        ],
        "goals": goals,
        "notes": [
            f"The raw floor itself is {floor_of_naive:.1f}x the naive adapter here: against moto, "
            "each message in a batch still costs the server about "
            f"{1000 / median(bulk[raw_loop]):.1f} ms, so no client reaches 10x the naive adapter "
            "against this server: the ratio is bounded by moto's per-message work, not by the "
            "client's. Rounds are kept small for the same reason: moto's cost per request "
            "grows with the messages already queued (last table).",
            f"Against raw batches sent from {THREADS} threads (as `enqueue_many` sends them), "
            f"lambda-jobs' bulk path is at {of_threads:.2f} of that floor.",
            "The signature check (arguments bound to the task function's signature at enqueue) "
            f"costs {check_us:.1f} µs a job for a three-parameter task (`prepare` "
            f"{prepare_checked:.1f} µs with it, {prepare_unchecked:.1f} µs with "
            "`check_arguments=False`, in-process, median of 21 runs of 2,000): "
            f"{check_us / (1000 / median(single[raw_single])) / 10:.2f}% of one raw "
            "`send_message` here; it is included in every lambda-jobs figure above.",
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--bulk", type=int, default=50, help="messages per bulk round")
    parser.add_argument("--single", type=int, default=50, help="messages per single round")
    parser.add_argument("--rounds", type=int, default=21, help="rounds of the bulk group")
    parser.add_argument("--single-rounds", type=int, default=41, help="rounds of the single group")
    args = parser.parse_args()
    write_section(args.out, measure(args.bulk, args.single, args.rounds, args.single_rounds))


if __name__ == "__main__":
    main()
