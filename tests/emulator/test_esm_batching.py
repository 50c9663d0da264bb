"""The ESM gathers up to BatchSize messages within MaximumBatchingWindowInSeconds."""

from __future__ import annotations

import threading
import time

from lambda_jobs.emulator.environments import FunctionPool
from lambda_jobs.emulator.esm import EventSourceMappingPoller
from lambda_jobs.emulator.joblog import JobLog
from lambda_jobs.emulator.motoserver import MotoServer
from lambda_jobs.emulator.provision import moto_config
from lambda_jobs.emulator.topology import EventSourceMappingSpec, FunctionSpec, QueueSpec

from tests.conftest import REGION, boto_client


def poller(
    moto: MotoServer, function: FunctionSpec, url: str, *, window: float
) -> EventSourceMappingPoller:
    queue = QueueSpec("Q", "q", url, f"arn:aws:sqs:{REGION}:123456789012:q", False, False)
    spec = EventSourceMappingSpec(
        logical_id="M",
        function=function,
        queue=queue,
        batch_size=5,
        batching_window_seconds=window,
        maximum_concurrency=2,
        report_batch_item_failures=True,
        enabled=True,
    )
    pool = FunctionPool(function, concurrency=1, base_environment={})
    return EventSourceMappingPoller(
        spec,
        pool,
        moto=moto_config(moto.url, REGION),
        region=REGION,
        log=JobLog(quiet=True),
        stop=threading.Event(),
    )


def test_batching_window_waits_for_more_messages_up_to_the_batch_size(
    moto: MotoServer, function: FunctionSpec
) -> None:
    sqs = boto_client(moto, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"early-{i}")

    def send_later() -> None:
        time.sleep(0.5)
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"late-{i}")

    sender = threading.Thread(target=send_later)
    sender.start()
    batch = poller(moto, function, url, window=3).receive_batch()
    sender.join()
    assert sorted(m["Body"] for m in batch) == ["early-0", "early-1", "late-0", "late-1", "late-2"]


def test_without_a_window_a_batch_is_what_one_receive_returns(
    moto: MotoServer, function: FunctionSpec
) -> None:
    sqs = boto_client(moto, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for i in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=f"m-{i}")
    esm = poller(moto, function, url, window=0)
    assert esm.concurrency == 1, "never more pollers than the function's concurrency"
    assert len(esm.receive_batch()) <= 5
