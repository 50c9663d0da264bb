"""Goat handler: real-shaped SQS batches from a moto queue, then the queue state in moto.

Pinned behaviour: runs each record and returns exactly the failed
ones in ``batchItemFailures``; a failure with attempts left is a delayed copy at the next attempt
(standard queue, backoff up to 900 s) or changes the record's visibility to the backoff (FIFO,
longer backoffs); exhausted or poison messages reach the DLQ with the error attributes, then are
acknowledged; nothing that failed is deleted; a record that came back runs alone in a child process
(never dead-lettered unrun, charged only for a crash of its own, caught there); per-task timeout;
near the deadline, unstarted records go back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import task
from lambda_jobs.worker.coldstart import Runtime, cold_start
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

TASKS = "tests.runtime.sample_tasks"
T = f"{TASKS}."


class Goat:
    """A source queue, its DLQ and a cold-started runtime, all in moto."""

    def __init__(self, server: MotoServer, monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
        self.sqs = boto_client(server, "sqs")
        self.url, self.arn = ev.make_queue(self.sqs, "jobs")
        self.dlq_url, self.dlq_arn = ev.make_queue(self.sqs, "jobs-dlq")
        monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", self.dlq_url)
        self.runtime: Runtime = cold_start({"LAMBDA_JOBS_TASKS": TASKS, **env})

    def send(self, *envelopes_or_bodies: Any) -> None:
        bodies = [e if isinstance(e, str) else e.to_json() for e in envelopes_or_bodies]
        ev.send(self.sqs, self.url, *bodies)

    def run(self, count: int, context: ev.Context | None = None) -> tuple[dict[str, Any], Any]:
        """Receive ``count`` messages, run them as one batch, settle like the ESM."""
        event = ev.sqs_event(self.sqs, self.url, self.arn, count)
        result = dispatch(event, context or ev.Context(), self.runtime)
        ev.settle(self.sqs, self.url, event, result)
        return event, result

    def ids(self, event: dict[str, Any], *indexes: int) -> list[str]:
        return [event["Records"][i]["messageId"] for i in indexes]


@pytest.fixture
def goat(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Goat]:
    yield Goat(moto, monkeypatch)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_batch_success_runs_every_record_and_reports_no_failures(goat: Goat, tmp_path: Path):
    goat.send(
        *(ev.envelope(T + "write_file", str(tmp_path / f"{i}.txt"), f"job {i}") for i in range(3))
    )
    _, result = goat.run(3)
    assert result == {"batchItemFailures": []}
    assert sorted(p.read_text() for p in tmp_path.glob("*.txt")) == ["job 0", "job 1", "job 2"]
    assert ev.queue_is_empty(goat.sqs, goat.url)
    assert ev.queue_is_empty(goat.sqs, goat.dlq_url)


def test_retry_is_a_copy_at_the_next_attempt_delayed_by_the_backoff(goat: Goat, tmp_path: Path):
    attempts = tmp_path / "attempts"
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "before"), "ok"),
        ev.envelope(T + "fail_until", str(attempts), 2),  # retry_backoff=1 s, no jitter
        ev.envelope(T + "write_file", str(tmp_path / "after"), "ok"),
    )
    event, result = goat.run(3)
    assert result == {"batchItemFailures": []}  # the original is acknowledged: a copy waits
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text() == "ok"
    failed_at = time.monotonic()
    assert goat.sqs.receive_message(QueueUrl=goat.url).get("Messages") is None  # delayed 1 s
    again = ev.receive(goat.sqs, goat.url, 1, timeout=10)[0]
    waited = time.monotonic() - failed_at
    assert 0.5 <= waited < 10
    assert again["Attributes"]["ApproximateReceiveCount"] == "1"  # no fork for it
    assert "MessageAttributes" not in again  # ran in its batch: it need not run alone
    original = json.loads(event["Records"][1]["body"])
    assert json.loads(again["Body"]) == {**original, "attempt": 2}
    # The copy: attempt 2 succeeds, the ESM deletes it.
    copy_event = {"Records": [ev.record(again, goat.arn)]}
    result = dispatch(copy_event, ev.Context(), goat.runtime)
    assert result == {"batchItemFailures": []}
    ev.settle(goat.sqs, goat.url, copy_event, result)
    assert lines(attempts) == ["run", "run"]
    assert ev.queue_is_empty(goat.sqs, goat.url)
    assert ev.queue_is_empty(goat.sqs, goat.dlq_url)


def test_retry_after_a_backoff_over_900_s_hides_the_message_and_lists_it(
    goat: Goat, tmp_path: Path
):
    """SQS delays a message at most 900 s ("SendMessageBatchRequestEntry", SQS API Reference):
    a longer backoff keeps the message, invisible for the backoff, and counts its receives."""
    goat.send(ev.envelope(T + "fail_until", str(tmp_path / "runs"), 2, retry_backoff=1000))
    event, result = goat.run(1)
    assert ev.failed_ids(result) == goat.ids(event, 0)
    attributes = goat.sqs.get_queue_attributes(QueueUrl=goat.url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "0"


def test_exhausted_job_reaches_dlq_with_error_attributes_and_is_acknowledged(
    goat: Goat, tmp_path: Path
):
    job = ev.envelope(T + "always_fail", str(tmp_path / "runs"))
    goat.send(job)
    event, result = goat.run(1)
    assert result == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["body"] == event["Records"][0]["body"]  # the original body, unchanged
    assert entry["reason"] == "exhausted"
    assert entry["error_type"] == "ValueError"
    assert entry["error_message"] == "this task always fails"
    assert "always_fail" in entry["error_traceback"]
    assert entry["error_traceback"].rstrip().endswith("ValueError: this task always fails")
    assert entry["attempts"] == "1"
    assert entry["task"] == T + "always_fail"
    assert entry["job_id"] == job.id
    assert entry["source"] == goat.arn
    assert entry["failed_at"].endswith("+00:00")
    assert ev.queue_is_empty(goat.sqs, goat.url)


def test_error_message_and_traceback_attributes_are_bounded_to_4_kib(goat: Goat):
    goat.send(ev.envelope(T + "fail_loudly", 10_000))
    goat.run(1)
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert len(entry["error_traceback"].encode()) == 4096
    assert entry["error_traceback"].rstrip().endswith("xxxend>")  # the end is kept
    assert len(entry["error_message"].encode()) == 4096
    assert entry["error_message"].startswith("<startxxx")  # the start is kept


@pytest.mark.parametrize(
    ("body", "reason", "message_part"),
    [
        ("not json at all", "undecodable", "not JSON"),
        (
            '{"lambda_jobs": 99, "id": "j-1", "task": "x"}',
            "undecodable",
            "unsupported envelope version 99",
        ),
        ("[1, 2, 3]", "undecodable", "must be a JSON object"),
    ],
)
def test_undecodable_body_reaches_dlq_unchanged(
    goat: Goat, body: str, reason: str, message_part: str
):
    goat.send(body)
    _, result = goat.run(1)
    assert result == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["body"] == body
    assert entry["reason"] == reason
    assert entry["error_type"] == "lambda_jobs.errors.EnvelopeError"
    assert message_part in entry["error_message"]
    assert ev.queue_is_empty(goat.sqs, goat.url)


def test_override_out_of_range_is_undecodable_and_names_the_option(goat: Goat, tmp_path: Path):
    goat.send(ev.envelope(T + "write_file", str(tmp_path / "f"), "x", retries=1000))
    goat.run(1)
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "undecodable"
    assert "retries must be in 0..50" in entry["error_message"]
    assert not (tmp_path / "f").exists()


def test_unknown_task_reaches_dlq(goat: Goat):
    job = ev.envelope("app.tasks.nobody_defined_this")
    goat.send(job)
    goat.run(1)
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "unknown_task"
    assert entry["task"] == "app.tasks.nobody_defined_this"
    assert entry["job_id"] == job.id
    assert "app.tasks.nobody_defined_this" in entry["error_message"]
    assert TASKS in entry["error_message"]


def late_task(path: str) -> None:
    Path(path).write_text("ran")


def test_task_registered_after_cold_start_is_not_allowed(goat: Goat, tmp_path: Path):
    late = task(name="tests.runtime.late_registered")(late_task)  # after the snapshot
    goat.send(ev.envelope(late.name, str(tmp_path / "late")))
    goat.run(1)
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "not_allowed"
    assert "LAMBDA_JOBS_TASKS" in entry["error_message"]
    assert not (tmp_path / "late").exists()


def redeliver(goat: Goat, count: int = 1) -> None:
    """Receive ``count`` messages and make them visible again: each comes back with its receive
    count one higher, as after an invocation that crashed (its own job's crash or another's)."""
    for message in ev.receive(goat.sqs, goat.url, count):
        goat.sqs.change_message_visibility(
            QueueUrl=goat.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def test_a_record_the_receive_count_puts_past_its_last_attempt_still_runs(
    goat: Goat, tmp_path: Path
):
    """Issue 32: a neighbour of a job that crashed the invocation came back with receive count 2
    and was dead-lettered as IncompleteAttempts (retries=0) without ever having run."""
    goat.send(ev.envelope(T + "write_file", str(tmp_path / "neighbour"), "ran"))  # retries=0
    redeliver(goat)
    event, result = goat.run(1)
    assert event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "neighbour").read_text() == "ran"
    assert ev.queue_is_empty(goat.sqs, goat.url)
    assert ev.queue_is_empty(goat.sqs, goat.dlq_url)


def test_a_record_that_crashes_alone_is_dead_lettered_as_incomplete_attempts(
    goat: Goat, tmp_path: Path
):
    goat.send(ev.envelope(T + "kill_process", str(tmp_path / "runs")))  # retries=0
    redeliver(goat)  # its first delivery crashed the invocation (with whatever shared its batch)
    _, result = goat.run(1)  # this process survives: the record ran in a child
    assert result == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "exhausted"
    assert entry["error_type"] == "IncompleteAttempts"
    assert "crashed the function's process when run alone (exit code 1)" in entry["error_message"]
    assert "previous attempts did not finish" in entry["error_message"]
    # Only the crash alone is its own: its first delivery's end may have been a neighbour's.
    assert entry["attempts"] == "1"
    assert lines(tmp_path / "runs") == ["run"]  # run once alone (the first crash is not here)


def test_a_job_that_keeps_crashing_alone_is_charged_each_crash_and_dead_lettered(
    goat: Goat, tmp_path: Path
):
    goat.send(ev.envelope(T + "kill_process", str(tmp_path / "runs"), retries=2, retry_backoff=1))
    redeliver(goat)
    for attempt in (1, 2):
        _, result = goat.run(1)  # alone: a child crashes, this process goes on
        assert result == {"batchItemFailures": []}  # acknowledged: a delayed copy holds it
        assert lines(tmp_path / "runs") == ["run"] * attempt
        assert ev.queue_is_empty(goat.sqs, goat.dlq_url)
        [copy] = ev.receive(goat.sqs, goat.url, 1)  # after its 1 s backoff
        assert json.loads(copy["Body"])["attempt"] == attempt + 1
        assert copy["Attributes"]["ApproximateReceiveCount"] == "1"
        # Marked: it runs alone again instead of crashing a whole batch.
        assert copy["MessageAttributes"]["lambda_jobs.run_alone"]["StringValue"] == (
            "crashed alone"
        )
        goat.sqs.change_message_visibility(
            QueueUrl=goat.url, ReceiptHandle=copy["ReceiptHandle"], VisibilityTimeout=0
        )
    _, result = goat.run(1)  # the marked copy of attempt 3 (receive count 2 by now)
    assert result == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert (entry["reason"], entry["error_type"], entry["attempts"]) == (
        "exhausted",
        "IncompleteAttempts",
        "3",
    )
    assert lines(tmp_path / "runs") == ["run"] * 3
    assert ev.queue_is_empty(goat.sqs, goat.url)


def test_a_record_past_its_last_attempt_handed_back_is_copied_as_its_last_attempt(
    goat: Goat, tmp_path: Path
):
    """A neighbour of a crash handed back at the deadline must not become a copy that the next
    delivery dead-letters unrun (its copy has receive count 1: it would not run alone)."""
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "first"), "ran"),
        ev.envelope(T + "long_timeout", str(tmp_path / "long")),  # retries=0; needs 10 s
    )
    redeliver(goat, 2)
    _, result = goat.run(2, ev.Context(remaining_ms=6000))
    assert result == {"batchItemFailures": []}
    [copy] = ev.receive(goat.sqs, goat.url, 1)
    assert json.loads(copy["Body"])["attempt"] == 1
    goat.sqs.change_message_visibility(
        QueueUrl=goat.url, ReceiptHandle=copy["ReceiptHandle"], VisibilityTimeout=0
    )
    redeliver(goat)  # the copy comes back once more: it still runs, alone
    goat.run(1)
    assert lines(tmp_path / "long") == ["run"]
    assert ev.queue_is_empty(goat.sqs, goat.dlq_url)


def test_a_normal_failure_past_the_count_runs_alone_and_keeps_its_own_error(
    goat: Goat, tmp_path: Path
):
    goat.send(ev.envelope(T + "always_fail", str(tmp_path / "runs")))  # retries=0
    redeliver(goat)
    goat.run(1)
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert (entry["reason"], entry["error_type"], entry["attempts"]) == (
        "exhausted",
        "ValueError",
        "1",
    )


@pytest.mark.parametrize(
    ("overrides", "attempt"),
    [
        ({}, 2),  # retries are copies: the receives since the last one did not finish
        ({"retry_backoff": 1000}, 3),  # retries keep the message: each receive is an attempt
    ],
)
def test_attempt_of_a_record_that_came_back(
    goat: Goat, tmp_path: Path, overrides: dict[str, Any], attempt: int
):
    out = tmp_path / "context.json"
    goat.send(ev.envelope(T + "record_context", str(out), attempt=2, **overrides))
    first = ev.receive(goat.sqs, goat.url, 1)[0]
    goat.sqs.change_message_visibility(
        QueueUrl=goat.url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    goat.run(1)  # receive count 2, envelope attempt 2
    seen = json.loads(out.read_text())
    assert seen["attempt"] == attempt
    assert seen["max_attempts"] == 5
    assert seen["task_name"] == T + "record_context"
    assert 0 < seen["remaining_seconds"] <= 60


def test_dlq_send_failure_keeps_the_message(goat: Goat, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", goat.dlq_url + "-missing")
    goat.send(ev.envelope(T + "always_fail", str(tmp_path / "runs")), "garbage")
    event, result = goat.run(2)
    assert ev.failed_ids(result) == goat.ids(event, 0, 1)
    attributes = goat.sqs.get_queue_attributes(QueueUrl=goat.url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "2"


def test_dlq_unset_keeps_the_message(goat: Goat, monkeypatch):
    monkeypatch.delenv("LAMBDA_JOBS_DLQ_URL")
    goat.send("garbage")
    event, result = goat.run(1)
    assert ev.failed_ids(result) == goat.ids(event, 0)


def test_one_failing_record_never_fails_its_neighbours(goat: Goat, tmp_path: Path):
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "a"), "a"),
        ev.envelope(T + "fail_with_retries", str(tmp_path / "retry")),
        "poison",
        ev.envelope(T + "exit_process", str(tmp_path / "exit")),
        ev.envelope(T + "write_file", str(tmp_path / "b"), "b"),
    )
    event, result = goat.run(5)
    by_body = {r["messageId"]: r["body"] for r in event["Records"]}
    # The retries of fail_with_retries and exit_process are delayed copies (60 s and 5 s).
    assert [by_body[i] for i in ev.failed_ids(result)] == []
    delayed = goat.sqs.get_queue_attributes(QueueUrl=goat.url, AttributeNames=["All"])
    assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "2"
    assert (tmp_path / "a").read_text() == "a"
    assert (tmp_path / "b").read_text() == "b"
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["body"] == "poison"


def test_task_timeout_is_enforced_and_counts_as_failed_attempt(goat: Goat, tmp_path: Path):
    trace = tmp_path / "trace"
    goat.send(ev.envelope(T + "sleep_past_timeout", str(trace), 5))
    started = time.monotonic()
    goat.run(1)
    assert time.monotonic() - started < 3
    assert lines(trace) == ["started"]
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"
    assert "ran past its timeout of 0.3 s" in entry["error_message"]


def test_timeout_swallowed_by_the_task_still_fails_the_attempt(goat: Goat, tmp_path: Path):
    trace = tmp_path / "trace"
    goat.send(ev.envelope(T + "swallow_timeout", str(trace), 0.7))
    goat.run(1)
    assert "swallowed" in lines(trace)
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"


def test_job_without_timeout_is_stopped_before_the_function_deadline(goat: Goat, tmp_path: Path):
    trace = tmp_path / "trace"
    goat.send(ev.envelope(T + "sleep_unbounded", str(trace), 5))
    started = time.monotonic()
    goat.run(1, ev.Context(remaining_ms=2600))  # default margin 2000 ms: ~0.6 s to run
    # The handler returned before the function's deadline (2.6 s), not after the 5 s sleep; the
    # margin covers the handler's own requests to moto on a loaded machine (2.04 s seen).
    assert time.monotonic() - started < 2.6
    assert lines(trace) == ["started"]
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"
    assert "before the Lambda function's deadline" in entry["error_message"]


def test_envelope_overrides_win_over_task_options(goat: Goat, tmp_path: Path):
    # fail_with_retries has retries=3; the envelope says 0, so the first failure is final.
    goat.send(ev.envelope(T + "fail_with_retries", str(tmp_path / "runs"), retries=0))
    _, result = goat.run(1)
    assert result == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "exhausted"


def test_deadline_hands_back_unstarted_records_as_copies_without_using_an_attempt(
    goat: Goat, tmp_path: Path
):
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "first"), "ran", retries=2),
        ev.envelope(T + "long_timeout", str(tmp_path / "long"), retries=2),  # needs 10 s
        ev.envelope(T + "write_file", str(tmp_path / "third"), "ran", retries=2),
    )
    messages = ev.receive(goat.sqs, goat.url, 3)
    for message in messages:  # each was delivered once before and never finished
        goat.sqs.change_message_visibility(
            QueueUrl=goat.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    event, result = goat.run(3, ev.Context(remaining_ms=6000))  # budget 4 s < 10 s
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "first").read_text() == "ran"
    assert not (tmp_path / "long").exists()
    assert not (tmp_path / "third").exists()
    copies = ev.receive(goat.sqs, goat.url, 2)
    originals = {json.loads(r["body"])["id"]: json.loads(r["body"]) for r in event["Records"]}
    for copy in copies:
        body = json.loads(copy["Body"])
        assert copy["Attributes"]["ApproximateReceiveCount"] == "1"
        # The attempt it would have run as (the unfinished delivery is not charged): not used up.
        assert body == originals[body["id"]]
        # It came back, so it would have run alone: so does its copy.
        assert copy["MessageAttributes"]["lambda_jobs.run_alone"]["StringValue"] == "came back"
    assert {Path(json.loads(c["Body"])["args"][0]).name for c in copies} == {"long", "third"}


def test_deadline_hand_back_on_fifo_lists_the_rest_in_order(moto, monkeypatch, tmp_path: Path):
    goat = Goat(moto, monkeypatch)
    url, arn = ev.make_queue(goat.sqs, "ordered", fifo=True)
    for name in ("first", "second", "third"):
        job = ev.envelope(
            T + ("long_timeout" if name == "second" else "write_file"),
            str(tmp_path / name),
            *(["ran"] if name != "second" else []),
        )
        ev.send(goat.sqs, url, job.to_json(), group="g1")
    event = ev.sqs_event(goat.sqs, url, arn, 3)
    result = dispatch(event, ev.Context(remaining_ms=6000), goat.runtime)
    assert ev.failed_ids(result) == [r["messageId"] for r in event["Records"][1:]]
    assert (tmp_path / "first").read_text() == "ran"
    assert not (tmp_path / "third").exists()
    ev.settle(goat.sqs, url, event, result)
    attributes = goat.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"  # released, not in flight
    assert attributes["ApproximateNumberOfMessages"] == "2"  # kept, no copies sent
    again = ev.receive(goat.sqs, url, 2, timeout=5)  # at once, not after the visibility timeout
    assert [m["MessageId"] for m in again] == ev.failed_ids(result)  # in order


def test_fifo_failure_keeps_every_later_record_behind_it(moto, monkeypatch, tmp_path: Path):
    goat = Goat(moto, monkeypatch)
    url, arn = ev.make_queue(goat.sqs, "ordered", fifo=True)
    ev.send(
        goat.sqs,
        url,
        ev.envelope(T + "fail_with_retries", str(tmp_path / "r")).to_json(),
        group="g",
    )
    ev.send(
        goat.sqs, url, ev.envelope(T + "write_file", str(tmp_path / "w"), "x").to_json(), group="g"
    )
    event = ev.sqs_event(goat.sqs, url, arn, 2)
    result = dispatch(event, ev.Context(), goat.runtime)
    assert ev.failed_ids(result) == [r["messageId"] for r in event["Records"]]
    assert not (tmp_path / "w").exists()


def test_fifo_group_resumes_after_the_failed_job_s_backoff_in_order(
    moto, monkeypatch, tmp_path: Path, capfd
):
    """Issue 27: the records listed behind a failed one are released, not left in flight for the
    queue's visibility timeout; SQS holds them behind the failed one until its backoff ends."""
    goat = Goat(moto, monkeypatch)
    url, arn = ev.make_queue(goat.sqs, "ordered", fifo=True, visibility=60)
    jobs = [  # the scenario: every job retries=2 (backoff 1 s); the second fails once
        ev.envelope(T + "fail_until", str(tmp_path / name), 2 if name == "flaky" else 1)
        for name in ("a", "flaky", "b", "c")
    ]
    for job in jobs:
        ev.send(goat.sqs, url, job.to_json(), group="g")
    event = ev.sqs_event(goat.sqs, url, arn, 4)
    result = dispatch(event, ev.Context(), goat.runtime)
    assert ev.failed_ids(result) == [r["messageId"] for r in event["Records"][1:]]
    ev.settle(goat.sqs, url, event, result)
    failed_at = time.monotonic()
    assert not (tmp_path / "b").exists()
    assert goat.sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # behind the failed
    again = ev.sqs_event(goat.sqs, url, arn, 3)
    waited = time.monotonic() - failed_at
    assert 0.5 < waited < 10, f"the group resumed after {waited:.1f} s (visibility timeout 60 s)"
    assert [json.loads(r["body"])["id"] for r in again["Records"]] == [j.id for j in jobs[1:]]
    capfd.readouterr()
    assert dispatch(again, ev.Context(), goat.runtime) == {"batchItemFailures": []}
    runs = {n: len(lines(tmp_path / n)) for n in ("a", "flaky", "b", "c")}
    assert runs == {"a": 1, "flaky": 2, "b": 1, "c": 1}
    # Without a job store the three came back (receive count 2) and each ran alone in a child
    # process (worker.isolation), which writes its own line to the function's stdout.
    logged = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert [line["outcome"] for line in logged] == ["succeeded"] * 3


def test_fifo_job_listed_behind_a_failure_keeps_its_attempt_with_the_job_store(
    moto, monkeypatch, tmp_path: Path
):
    """The docs' advice for ``retries=0`` tasks on FIFO lanes (guide/backends.md): the store
    counts attempts that started, so a job listed unrun behind a failed one still runs as
    attempt 1."""
    from tests.runtime.job_table import TABLE, make_table

    make_table(moto)
    goat = Goat(moto, monkeypatch, LAMBDA_JOBS_JOB_TABLE=TABLE)
    url, arn = ev.make_queue(goat.sqs, "ordered", fifo=True)
    flaky = ev.envelope(T + "fail_until", str(tmp_path / "flaky"), 2)  # backoff 1 s
    once = ev.envelope(T + "write_file", str(tmp_path / "once"), "ran")  # retries=0
    for job in (flaky, once):
        ev.send(goat.sqs, url, job.to_json(), group="g")
    event = ev.sqs_event(goat.sqs, url, arn, 2)
    ev.settle(goat.sqs, url, event, dispatch(event, ev.Context(), goat.runtime))
    again = ev.sqs_event(goat.sqs, url, arn, 2)
    assert dispatch(again, ev.Context(), goat.runtime) == {"batchItemFailures": []}
    assert (tmp_path / "once").read_text() == "ran"


def test_fifo_release_that_sqs_refuses_is_logged_and_the_record_still_listed(
    moto, monkeypatch, tmp_path: Path, capsys
):
    goat = Goat(moto, monkeypatch)
    url, arn = ev.make_queue(goat.sqs, "ordered", fifo=True)
    for job in (
        ev.envelope(T + "fail_with_retries", str(tmp_path / "r")),
        ev.envelope(T + "write_file", str(tmp_path / "w"), "x"),
    ):
        ev.send(goat.sqs, url, job.to_json(), group="g")
    event = ev.sqs_event(goat.sqs, url, arn, 2)
    event["Records"][1]["receiptHandle"] = "not-a-receipt-handle"
    capsys.readouterr()
    result = dispatch(event, ev.Context(), goat.runtime)
    assert ev.failed_ids(result) == [r["messageId"] for r in event["Records"]]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [line] = [line for line in logged if line["outcome"] == "handed_back"]
    assert line["level"] == "ERROR"
    assert line["aws_error"].startswith(
        "ChangeMessageVisibilityBatch failed: ReceiptHandleIsInvalid"
    )


def test_fifo_dead_letter_goes_to_a_fifo_dlq(moto, monkeypatch, tmp_path: Path):
    goat = Goat(moto, monkeypatch)
    url, arn = ev.make_queue(goat.sqs, "ordered", fifo=True)
    dlq_url, _ = ev.make_queue(goat.sqs, "ordered-dlq", fifo=True)
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", dlq_url)
    ev.send(goat.sqs, url, "poison", group="g")
    event = ev.sqs_event(goat.sqs, url, arn, 1)
    assert dispatch(event, ev.Context(), goat.runtime) == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, dlq_url, 1)
    assert entry["body"] == "poison"
    assert entry["reason"] == "undecodable"


def test_one_json_log_line_per_job_without_arguments(goat: Goat, tmp_path: Path, capsys):
    secret = "s3cr3t-argument-value"
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "a"), secret),
        ev.envelope(T + "always_fail", str(tmp_path / secret)),
    )
    capsys.readouterr()
    event, _ = goat.run(2)
    out = capsys.readouterr().out
    assert secret not in out
    logged = [json.loads(line) for line in out.splitlines()]
    assert [line["outcome"] for line in logged] == ["succeeded", "dead_lettered"]
    ids = [json.loads(r["body"])["id"] for r in event["Records"]]
    for line, job_id in zip(logged, ids, strict=True):
        assert line["type"] == "lambda_jobs.job"
        assert line["id"] == job_id
        assert line["queue"] == "default"
        assert line["attempt"] == 1
        assert isinstance(line["duration_ms"], float)
    assert logged[1]["error_type"] == "ValueError"
    assert logged[1]["reason"] == "exhausted"
    assert logged[0]["level"] == "INFO" and logged[1]["level"] == "ERROR"


def test_first_record_always_starts_even_if_its_timeout_exceeds_the_budget(
    goat: Goat, tmp_path: Path
):
    goat.send(ev.envelope(T + "long_timeout", str(tmp_path / "long")))  # needs 10 s
    _, result = goat.run(
        1, ev.Context(remaining_ms=4000)
    )  # budget 2 s: a later run won't have more
    assert result == {"batchItemFailures": []}
    assert lines(tmp_path / "long") == ["run"]


def test_hand_back_copy_refused_by_sqs_is_listed_instead(goat: Goat, tmp_path: Path):
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "first"), "ran"),
        ev.envelope(T + "long_timeout", str(tmp_path / "long")),
    )
    event = ev.sqs_event(goat.sqs, goat.url, goat.arn, 2)
    goat.sqs.delete_queue(QueueUrl=goat.url)  # the copy has nowhere to go
    result = dispatch(event, ev.Context(remaining_ms=6000), goat.runtime)
    assert ev.failed_ids(result) == goat.ids(event, 1)
    assert (tmp_path / "first").read_text() == "ran"


def test_hand_back_line_rounds_remaining_ms_as_duration_ms(goat: Goat, tmp_path: Path, capsys):
    goat.send(
        ev.envelope(T + "write_file", str(tmp_path / "first"), "ran"),
        ev.envelope(T + "long_timeout", str(tmp_path / "long")),  # needs 10 s: handed back
    )
    capsys.readouterr()
    goat.run(2, ev.Context(remaining_ms=6000))
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [line] = [line for line in logged if line["outcome"] == "handed_back"]
    assert 0 < line["remaining_ms"] <= 6000
    assert line["remaining_ms"] == round(line["remaining_ms"], 1)


def test_retry_copy_refused_by_sqs_is_listed_with_an_error_line(goat: Goat, tmp_path: Path, capsys):
    goat.send(ev.envelope(T + "fail_until", str(tmp_path / "runs"), 2))
    event = ev.sqs_event(goat.sqs, goat.url, goat.arn, 1)
    goat.sqs.delete_queue(QueueUrl=goat.url)  # the copy has nowhere to go
    result = dispatch(event, ev.Context(), goat.runtime)
    assert ev.failed_ids(result) == goat.ids(event, 0)  # kept: it comes back, never lost
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [error] = [r for r in records if r["type"] == "lambda_jobs.internal_error"]
    assert error["message_id"] == goat.ids(event, 0)[0]
    assert error["error_message"].startswith("retry copy refused: SendMessageBatch failed: ")
    assert "ChangeMessageVisibility failed" in error["error_message"]
    assert error["action"] == "hidden for its 1 s backoff and listed in batchItemFailures"
