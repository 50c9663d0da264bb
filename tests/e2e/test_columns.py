"""The six columns, end to end on both backends: enqueue through the public client against
``lambda-jobs local`` and check what the demo tasks wrote and what the queues hold."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from lambda_jobs import enqueue_many

from tests.e2e.conftest import Backend, demo_tasks, poll

pytestmark = pytest.mark.e2e


def _unique_seconds(base: float) -> float:
    """A sleep length that also identifies the job in the demo log."""
    return round(base + uuid.uuid4().int % 1000 / 100000, 5)


def _distinct_seconds(base: float, count: int) -> list[float]:
    """``count`` sleep lengths near ``base``, all different: each identifies its own job (drawn
    one by one, two of eight collided about once in 35 runs and were counted as one job)."""
    return [round(base + n / 100000, 5) for n in random.sample(range(1000), count)]


def test_async_enqueue_returns_at_once_and_the_job_runs_once(backend: Backend) -> None:
    name = f"async-{uuid.uuid4().hex[:8]}"
    job = demo_tasks.hello.enqueue(name)
    assert job.id
    greeting = f"Hello, {name}!"
    poll(lambda: backend.events(task="hello", greeting=greeting), timeout=20, what="hello to run")
    lane = backend.config["queues"]["default"]["lanes"][0]["target"]
    if backend.name == "goat":
        poll(lambda: backend.queue_depth(lane) == 0, timeout=10, what="the lane to drain")
    assert len(backend.events(task="hello", greeting=greeting)) == 1


def test_queues_every_lane_and_named_queue_runs_its_jobs(backend: Backend) -> None:
    names = {}
    for priority in (-10, 60):
        name = f"lane{priority}-{uuid.uuid4().hex[:8]}"
        demo_tasks.hello.using(priority=priority).enqueue(name)
        names[priority] = name
    if "ordered" in backend.config["queues"]:
        name = f"ordered-{uuid.uuid4().hex[:8]}"
        demo_tasks.hello.using(queue_name="ordered").enqueue(name)
        names[0] = name
    for name in names.values():
        greeting = f"Hello, {name}!"

        def ran(greeting: str = greeting) -> list[dict[str, object]]:
            return backend.events(task="hello", greeting=greeting)

        poll(ran, timeout=20, what=f"job {name} to run")


def test_delayed_job_does_not_start_before_its_time(backend: Backend) -> None:
    import time

    name = f"delayed-{uuid.uuid4().hex[:8]}"
    before = time.time()
    demo_tasks.hello.using(run_after=timedelta(seconds=3)).enqueue(name)
    event = poll(
        lambda: backend.events(task="hello", greeting=f"Hello, {name}!"),
        timeout=20,
        what="the delayed job to run",
    )[0]
    assert event["at"] >= before + 3, f"started {event['at'] - before:.2f} s after enqueue"


def test_delayed_job_on_a_fifo_queue_goes_through_the_scheduler(goat: Backend) -> None:
    import time

    name = f"fifo-delayed-{uuid.uuid4().hex[:8]}"
    before = time.time()
    demo_tasks.hello.using(queue_name="ordered", run_after=timedelta(seconds=2)).enqueue(name)
    event = poll(
        lambda: goat.events(task="hello", greeting=f"Hello, {name}!"),
        timeout=20,
        what="the delayed FIFO job to run",
    )[0]
    assert event["at"] >= before + 2


def test_priorities_high_lane_starts_before_the_low_lane_backlog_drains(backend: Backend) -> None:
    low = _distinct_seconds(0.6, 8)
    high = _distinct_seconds(0.7, 2)
    enqueue_many(demo_tasks.slow.using(priority=-50).prepare(s) for s in low)
    enqueue_many(demo_tasks.slow.using(priority=80).prepare(s) for s in high)

    def started(seconds: list[float]) -> list[float]:
        return [e["at"] for s in seconds for e in backend.events(task="slow", seconds=s)[:1]]

    poll(lambda: len(started(low)) == len(low), timeout=40, what="the low backlog to run")
    poll(lambda: len(started(high)) == len(high), timeout=10, what="the high jobs to run")
    assert max(started(high)) < max(started(low)), "the high lane waited for the low backlog"
    # The low lane never ran more jobs at once than its concurrency (2 in the demo stacks).
    poll(
        lambda: all(backend.events(task="slow", seconds=s, event="finished") for s in low),
        timeout=10,
        what="the low backlog to finish",
    )
    spans = [
        (
            backend.events(task="slow", seconds=s, event="started")[0]["at"],
            backend.events(task="slow", seconds=s, event="finished")[0]["at"],
        )
        for s in low
    ]
    most = max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)
    assert most <= 2, f"{most} low-lane jobs ran at once"


def test_timeout_job_is_retried_then_dead_lettered_with_its_error(backend: Backend) -> None:
    seconds = _unique_seconds(4)
    job = demo_tasks.slow.enqueue(seconds)
    message = poll(lambda: backend.dead_letter_for(job.id), timeout=40, what="the DLQ entry")
    starts = backend.events(task="slow", seconds=seconds, event="started")
    assert len(starts) == 2, "one run and one retry"
    assert not backend.events(task="slow", seconds=seconds, event="finished")
    attributes = message["MessageAttributes"]
    assert "JobTimeoutError" in attributes["lambda_jobs.error_type"]["StringValue"]
    assert attributes["lambda_jobs.attempts"]["StringValue"] == "2"


def test_flaky_job_succeeds_on_its_third_attempt_after_the_backoff(backend: Backend) -> None:
    import time

    since = time.time()
    demo_tasks.flaky.enqueue()

    def runs() -> list[dict[str, Any]]:
        return [e for e in backend.events(task="flaky") if float(e["at"]) >= since]

    poll(
        lambda: any(e["event"] == "succeeded" for e in runs()),
        timeout=40,
        what="flaky to succeed",
    )
    history = [(e["event"], e["attempt"], float(e["at"])) for e in runs()]
    assert [(h[0], h[1]) for h in history] == [
        ("failed", 1),
        ("failed", 2),
        ("succeeded", 3),
    ]
    # retry_backoff=1 doubled once, capped at 2, jittered into the upper half: >= 0.5 s, >= 1 s.
    assert history[1][2] - history[0][2] >= 0.5
    assert history[2][2] - history[1][2] >= 1.0


def test_exhausted_job_is_in_the_dlq_with_its_error(backend: Backend) -> None:
    text = f"boom-{uuid.uuid4().hex[:8]}"
    job = demo_tasks.failing.enqueue(text)
    message = poll(lambda: backend.dead_letter_for(job.id), timeout=40, what="the DLQ entry")
    attributes = message["MessageAttributes"]
    assert attributes["lambda_jobs.reason"]["StringValue"] == "exhausted"
    assert "RuntimeError" in attributes["lambda_jobs.error_type"]["StringValue"]
    assert text in attributes["lambda_jobs.error_message"]["StringValue"]
    assert len(backend.events(task="failing", message=text)) == 2


def test_batch_with_one_failing_record_completes_the_others_once(goat: Backend) -> None:
    names = [f"batch-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    text = f"batch-boom-{uuid.uuid4().hex[:8]}"
    jobs = enqueue_many(
        [
            demo_tasks.hello.prepare(names[0]),
            demo_tasks.hello.prepare(names[1]),
            demo_tasks.failing.prepare(text),
            demo_tasks.hello.prepare(names[2]),
        ]
    )
    poll(lambda: goat.dead_letter_for(jobs[2].id), timeout=40, what="the failing job's DLQ entry")
    for name in names:
        assert len(goat.events(task="hello", greeting=f"Hello, {name}!")) == 1


def test_ssm_config_reference_reaches_the_emulator(
    goat_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_jobs import aws

    parameter = f"/lambda-jobs/{goat_backend.config['scheduler']['group']}/client-config"
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", f"ssm:{parameter}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", goat_backend.moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", goat_backend.config["region"])
    aws.reset()
    name = f"ssm-{uuid.uuid4().hex[:8]}"
    demo_tasks.hello.enqueue(name)
    poll(
        lambda: goat_backend.events(task="hello", greeting=f"Hello, {name}!"),
        timeout=20,
        what="the job sent with the SSM-published config to run",
    )
    aws.reset()
