"""Goat enqueue against moto_server over HTTP: bodies, lanes, delays, schedules, FIFO, bulk,
errors."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import EnqueueError, aws, envelope, task
from lambda_jobs.enqueue.goat import read_batch_response
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime.enqueue_backends import (
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    GoatBackend,
    config_document,
    goat,
    lane,
    use_config,
)

__all__ = ["goat"]  # the fixture, imported for the tests below


@task
def add(a: int, b: int = 0) -> int:
    return a + b


@task
def store(blob: str) -> None:
    return None


@task(queue_name="orders", message_group_id="customer-7")
def ship(order_id: int) -> None:
    return None


@task(queue_name="orders")
def refund(order_id: int) -> None:
    return None


def same_millisecond(left: datetime | None, right: datetime) -> bool:
    """The envelope carries times to the millisecond."""
    return left is not None and abs(left - right) < timedelta(milliseconds=1)


def decoded(message: dict[str, Any]) -> envelope.Envelope:
    return envelope.from_json(message["Body"])


def test_goat_enqueue_message_body_is_the_envelope(goat: GoatBackend) -> None:
    before = datetime.now(UTC)
    job = add.enqueue(1, b=2)

    (message,) = goat.receive(goat.low_url, 1)
    body = decoded(message)
    assert body.id == job.id
    assert body.task == "tests.runtime.enqueue.test_goat.add"
    assert (body.args, body.kwargs) == ([1], {"b": 2})
    assert (body.queue, body.priority, body.attempt, body.run_after) == ("default", 0, 1, None)
    assert before - timedelta(seconds=1) <= body.enqueued_at <= datetime.now(UTC)
    assert body.overrides == {}
    assert job.queue_name == "default" and job.status == "enqueued"
    # The body is exactly the envelope's compact JSON, version key first.
    assert message["Body"] == body.to_json()
    assert json.loads(message["Body"])["lambda_jobs"] == 1


def test_the_receipt_enqueued_at_is_the_one_the_job_sees(goat: GoatBackend) -> None:
    """Issue 32: the envelope (so ``JobContext.enqueued_at``) carried milliseconds while the
    receipt's ``Job.enqueued_at`` kept microseconds; both are now the envelope's time."""
    for _ in range(5):  # a clock on an exact millisecond would hide the difference once
        job = add.enqueue(1)
        (message,) = goat.receive(goat.low_url, 1)
        assert job.enqueued_at == decoded(message).enqueued_at
        assert job.enqueued_at.microsecond % 1000 == 0


def test_goat_priority_picks_the_lane_whose_band_holds_it(goat: GoatBackend) -> None:
    high = add.using(priority=50).enqueue(1)
    low = add.using(priority=49).enqueue(2)
    lowest = add.using(priority=-100).enqueue(3)

    (high_message,) = goat.receive(goat.high_url, 1)
    assert (decoded(high_message).id, decoded(high_message).priority) == (high.id, 50)
    assert {decoded(m).id for m in goat.receive(goat.low_url, 2)} == {low.id, lowest.id}
    assert goat.visible_now(goat.high_url) == []


def test_goat_delay_up_to_900s_is_sqs_delay_seconds(goat: GoatBackend) -> None:
    job = add.using(run_after=timedelta(seconds=600)).enqueue(1)

    # Held back by SQS itself: counted as delayed, not receivable, and no schedule was made.
    assert goat.counts(goat.low_url) == {
        "ApproximateNumberOfMessages": 0,
        "ApproximateNumberOfMessagesDelayed": 1,
    }
    assert goat.visible_now(goat.low_url) == []
    assert goat.schedules() == []
    assert job.run_after is not None
    assert timedelta(seconds=599) <= job.run_after - job.enqueued_at <= timedelta(seconds=600)
    goat.sqs.purge_queue(QueueUrl=goat.low_url)


def test_goat_short_delay_arrives_after_it(goat: GoatBackend) -> None:
    job = add.using(run_after=timedelta(seconds=1)).enqueue(1)

    assert goat.visible_now(goat.low_url) == []
    (message,) = goat.receive(goat.low_url, 1)
    assert datetime.now(UTC) >= job.enqueued_at + timedelta(seconds=1)
    assert job.run_after is not None
    assert same_millisecond(decoded(message).run_after, job.run_after)


def test_goat_delay_over_900s_creates_a_schedule_targeting_the_queue(goat: GoatBackend) -> None:
    job = add.using(run_after=timedelta(hours=2), priority=60).enqueue(5)

    (schedule,) = goat.schedules()
    assert schedule["Name"] == f"lj-{job.id}-a1"
    assert schedule["GroupName"] == SCHEDULE_GROUP
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    target = schedule["Target"]
    assert target["Arn"] == goat.high_arn
    assert target["RoleArn"] == SCHEDULER_ROLE_ARN
    # undeliverable (the lane is gone): to the backend's dead-letter queue, not dropped
    assert target["DeadLetterConfig"] == {"Arn": goat.document()["dead_letter_queue"]["arn"]}
    body = envelope.from_json(target["Input"])
    assert (body.id, body.args, body.priority) == (job.id, [5], 60)
    assert job.run_after is not None
    assert same_millisecond(body.run_after, job.run_after)
    when = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)")
    assert job.run_after is not None
    # Whole seconds, rounded up: never early, at most a second late.
    assert timedelta(0) <= when.replace(tzinfo=UTC) - job.run_after < timedelta(seconds=1)
    assert goat.counts(goat.high_url)["ApproximateNumberOfMessagesDelayed"] == 0


def test_goat_absolute_run_after_datetime_is_honoured(goat: GoatBackend) -> None:
    at = datetime.now(UTC) + timedelta(days=3)
    job = add.using(run_after=at).enqueue(1)

    (schedule,) = goat.schedules()
    assert job.run_after == at
    assert same_millisecond(envelope.from_json(schedule["Target"]["Input"]).run_after, at)


def test_goat_fifo_lane_sets_message_group_and_deduplication_id(goat: GoatBackend) -> None:
    grouped = ship.enqueue(1)
    default_group = refund.enqueue(2)

    first, second = goat.receive(goat.fifo_url, 2)
    attributes = {decoded(m).id: m["Attributes"] for m in (first, second)}
    assert attributes[grouped.id]["MessageGroupId"] == "customer-7"
    assert attributes[grouped.id]["MessageDeduplicationId"] == grouped.id
    assert attributes[default_group.id]["MessageGroupId"] == refund.name
    assert attributes[default_group.id]["MessageDeduplicationId"] == default_group.id


def test_goat_fifo_lane_any_delay_goes_through_a_schedule_with_the_group(goat: GoatBackend) -> None:
    job = ship.using(run_after=timedelta(seconds=30)).enqueue(9)

    (schedule,) = goat.schedules()
    assert schedule["Target"]["Arn"] == goat.fifo_arn
    assert schedule["Target"]["SqsParameters"] == {"MessageGroupId": "customer-7"}
    assert envelope.from_json(schedule["Target"]["Input"]).id == job.id
    assert goat.visible_now(goat.fifo_url) == []


def test_goat_tenant_is_the_message_group_id_on_a_standard_lane(goat: GoatBackend) -> None:
    one = add.using(tenant="acme").enqueue(1)
    delayed = add.using(tenant="globex", run_after=timedelta(seconds=1)).enqueue(2)
    bulk = lambda_jobs.enqueue_many([add.using(tenant="initech").prepare(3), add.prepare(4)])

    messages = goat.receive(goat.low_url, 4)
    attributes = {decoded(m).id: m["Attributes"] for m in messages}
    assert attributes[one.id]["MessageGroupId"] == "acme"
    assert attributes[delayed.id]["MessageGroupId"] == "globex"  # with DelaySeconds
    assert attributes[bulk[0].id]["MessageGroupId"] == "initech"
    assert "MessageGroupId" not in attributes[bulk[1].id]
    assert all("MessageDeduplicationId" not in a for a in attributes.values())


def test_goat_tenant_leaves_a_fifo_lanes_group_alone(goat: GoatBackend) -> None:
    job = ship.using(tenant="acme").enqueue(1)

    (message,) = goat.receive(goat.fifo_url, 1)
    assert decoded(message).id == job.id
    assert message["Attributes"]["MessageGroupId"] == "customer-7"


def test_goat_long_delay_schedule_on_a_standard_lane_carries_no_group(goat: GoatBackend) -> None:
    add.using(tenant="acme", run_after=timedelta(hours=1)).enqueue(1)

    (schedule,) = goat.schedules()
    assert "SqsParameters" not in schedule["Target"]


def _count_batch_requests(goat_config: dict[str, Any]) -> list[int]:
    """Entries per SendMessageBatch request, seen on the runtime's own shared client."""
    from lambda_jobs import config

    sizes: list[int] = []
    client = aws.client("sqs", config.parse(goat_config))
    client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **_: sizes.append(len(params["Entries"])),
    )
    return sizes


def test_goat_bulk_25_jobs_go_in_3_batches_and_all_arrive(goat: GoatBackend) -> None:
    sizes = _count_batch_requests(goat.document())
    jobs = lambda_jobs.enqueue_many(add.prepare(i) for i in range(25))

    assert sorted(sizes) == [5, 10, 10]
    assert [job.id for job in jobs] == list(dict.fromkeys(job.id for job in jobs))  # unique
    messages = goat.receive(goat.low_url, 25)
    assert {decoded(m).id for m in messages} == {job.id for job in jobs}
    assert sorted(decoded(m).args[0] for m in messages) == list(range(25))


def test_goat_bulk_sorts_jobs_into_lanes_delays_and_schedules(goat: GoatBackend) -> None:
    prepared = [
        add.prepare(1),
        add.using(priority=80).prepare(2),
        add.using(run_after=timedelta(hours=1)).prepare(3),
        ship.prepare(4),
        add.using(run_after=timedelta(seconds=600)).prepare(5),
    ]
    jobs = lambda_jobs.enqueue_many(prepared)

    assert [job.id for job in jobs] == [p.id for p in prepared]
    assert decoded(goat.receive(goat.low_url, 1)[0]).id == prepared[0].id
    assert decoded(goat.receive(goat.high_url, 1)[0]).id == prepared[1].id
    assert decoded(goat.receive(goat.fifo_url, 1)[0]).id == prepared[3].id
    (schedule,) = goat.schedules()
    assert envelope.from_json(schedule["Target"]["Input"]).id == prepared[2].id
    # The 600 s job went in the batch with DelaySeconds: held back by SQS.
    assert goat.counts(goat.low_url)["ApproximateNumberOfMessagesDelayed"] == 1
    goat.sqs.purge_queue(QueueUrl=goat.low_url)


def test_goat_bulk_batches_stay_within_the_batch_payload_limit(goat: GoatBackend) -> None:
    # Ten 120 KB jobs: one batch of ten (1.2 MB) would be refused whole (BatchRequestTooLong);
    # SQS takes 1 MiB of messages per batch request ("Amazon SQS batch actions"): 8, then 2.
    sizes = _count_batch_requests(goat.document())
    jobs = lambda_jobs.enqueue_many(store.prepare("x" * 120_000) for _ in range(10))

    assert sizes == [8, 2]
    assert {decoded(m).id for m in goat.receive(goat.low_url, 10)} == {j.id for j in jobs}


def test_goat_bulk_fifo_lane_keeps_input_order(goat: GoatBackend) -> None:
    jobs = lambda_jobs.enqueue_many([ship.prepare(i) for i in range(23)])

    messages = goat.receive(goat.fifo_url, 23)
    assert [decoded(m).id for m in messages] == [job.id for job in jobs]


def test_goat_enqueue_error_when_the_lane_queue_is_gone(goat: GoatBackend) -> None:
    goat.sqs.delete_queue(QueueUrl=goat.low_url)

    with pytest.raises(EnqueueError) as caught:
        add.enqueue(1)

    error = caught.value
    assert len(error.job_ids) == 1 and uuid.UUID(error.job_ids[0])
    assert error.sent_ids == ()
    assert "QueueDoesNotExist" in str(error) or "NonExistentQueue" in str(error)
    assert error.job_ids[0] in str(error)


def test_goat_enqueue_error_when_the_schedule_group_is_gone(goat: GoatBackend) -> None:
    goat.scheduler.delete_schedule_group(Name=SCHEDULE_GROUP)
    prepared = add.using(run_after=timedelta(hours=5)).prepare(1)

    with pytest.raises(EnqueueError) as caught:
        lambda_jobs.enqueue_many([prepared])

    assert caught.value.job_ids == (prepared.id,)
    assert "CreateSchedule" in caught.value.errors[prepared.id]


def test_goat_bulk_partial_failure_names_exactly_the_failed_and_sent_jobs(
    goat: GoatBackend, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone_url, gone_arn = goat.queue("gone")
    document = goat.document()
    document["queues"]["reports"] = {"lanes": [lane(-100, 100, gone_url, gone_arn)]}
    use_config(monkeypatch, document)
    goat.sqs.delete_queue(QueueUrl=gone_url)

    @task(queue_name="reports", name="tests.runtime.test_enqueue_goat.report")
    def report(n: int) -> None:
        return None

    healthy = [add.prepare(i) for i in range(12)]
    doomed = [report.prepare(i) for i in range(3)]
    mixed = [healthy[0], doomed[0], *healthy[1:6], doomed[1], *healthy[6:], doomed[2]]

    with pytest.raises(EnqueueError) as caught:
        lambda_jobs.enqueue_many(mixed)

    error = caught.value
    assert error.job_ids == tuple(p.id for p in doomed)
    assert error.sent_ids == tuple(p.id for p in mixed if p in healthy)
    assert set(error.errors) == set(error.job_ids)
    assert "3 of 15 jobs were not enqueued" in str(error)
    assert {decoded(m).id for m in goat.receive(goat.low_url, 12)} == {p.id for p in healthy}


def test_goat_batch_response_reader_on_a_real_moto_response(moto: MotoServer) -> None:
    # moto rejects a batch entry per entry only for an invalid DelaySeconds (our client never
    # sends one), so the response comes from a plain boto3 call; the reader is pure logic.
    sqs = boto_client(moto, "sqs")
    url = sqs.create_queue(QueueName="reader")["QueueUrl"]
    response = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "0", "MessageBody": "a"},
            {"Id": "1", "MessageBody": "b", "DelaySeconds": 901},
            {"Id": "2", "MessageBody": "c"},
        ],
    )
    reading = read_batch_response({"0": "job-a", "1": "job-b", "2": "job-c"}, response)

    assert sorted(reading.sent) == ["job-a", "job-c"]
    assert list(reading.failed) == ["job-b"]  # SenderFault: final, not retried
    assert "DelaySeconds" in reading.failed["job-b"]
    assert reading.retry == {}


def test_goat_batch_response_reader_retries_server_faults_and_unreported_entries() -> None:
    response = {
        "Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}],
        "Failed": [
            {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"},
            {"Id": "2", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"},
        ],
    }
    reading = read_batch_response({"0": "a", "1": "b", "2": "c", "3": "d"}, response)

    assert reading.sent == ["a"]
    assert reading.retry == {
        "1": "InternalError: try again",
        "3": "SQS did not report this entry",
    }
    assert reading.failed == {"c": "InvalidMessageContents: bad"}


def test_goat_config_passed_explicitly_wins_over_the_environment(
    goat: GoatBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_jobs import config
    from lambda_jobs.backends import enqueue

    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", "not used")
    prepared = add.prepare(7)
    (job,) = enqueue([prepared], config.parse(goat.document()))

    assert decoded(goat.receive(goat.low_url, 1)[0]).id == job.id == prepared.id


def test_goat_queue_without_scheduler_still_takes_short_delays(
    goat: GoatBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config(monkeypatch, goat.document(scheduler=False))
    add.using(run_after=timedelta(seconds=900)).enqueue(1)

    assert goat.counts(goat.low_url)["ApproximateNumberOfMessagesDelayed"] == 1
    goat.sqs.purge_queue(QueueUrl=goat.low_url)


def test_goat_fifo_bulk_stops_at_the_first_refused_batch_to_keep_order(goat: GoatBackend) -> None:
    goat.sqs.delete_queue(QueueUrl=goat.fifo_url)
    prepared = [ship.prepare(i) for i in range(15)]

    with pytest.raises(EnqueueError) as caught:
        lambda_jobs.enqueue_many(prepared)

    error = caught.value
    assert error.job_ids == tuple(p.id for p in prepared) and error.sent_ids == ()
    assert "queue does not exist" in error.errors[prepared[0].id]
    # The second batch was never sent: after a gap, later jobs of the group would overtake.
    assert "an earlier job of this FIFO lane was refused" in error.errors[prepared[10].id]


class ScriptedSqs:
    """A real HTTP endpoint speaking SQS's JSON protocol for ``SendMessageBatch`` only.

    moto never refuses a batch entry with ``SenderFault: false`` (a transient server-side
    failure), so this server does, by script: ``transient[n]`` is how many sends of the job whose
    first argument is ``n`` are refused that way; ``permanent`` jobs are refused with
    ``SenderFault: true``. ``requests`` records the first arguments of each request's entries.
    """

    def __init__(self) -> None:
        self.transient: dict[int, int] = {}
        self.permanent: set[int] = set()
        self.requests: list[list[int]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.dumps(script.answer(json.loads(self.rfile.read(length)))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        numbers = []
        for entry in request["Entries"]:
            number = envelope.from_json(entry["MessageBody"]).args[0]
            numbers.append(number)
            if number in self.permanent:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "SenderFault": True,
                        "Code": "InvalidMessageContents",
                        "Message": "refused for good",
                    }
                )
            elif self.transient.get(number, 0) > 0:
                self.transient[number] -= 1
                failed.append(
                    {
                        "Id": entry["Id"],
                        "SenderFault": False,
                        "Code": "InternalError",
                        "Message": "try again",
                    }
                )
            else:
                digest = hashlib.md5(entry["MessageBody"].encode()).hexdigest()
                successful.append(
                    {"Id": entry["Id"], "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}
                )
        self.requests.append(numbers)
        return {"Successful": successful, "Failed": failed}


@pytest.fixture
def scripted_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedSqs]:
    server = ScriptedSqs()
    queue = f"{server.url}/123456789012/scripted"
    document = config_document(
        "goat",
        {"default": {"lanes": [lane(-100, 100, queue, "arn:aws:sqs:us-east-1:1:scripted")]}},
        endpoints={"sqs": server.url},
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    use_config(monkeypatch, document)
    aws.reset()
    yield server
    aws.reset()
    server.server.shutdown()
    server.server.server_close()


def test_goat_bulk_retries_only_the_entries_sqs_refused_for_now(scripted_sqs: ScriptedSqs) -> None:
    scripted_sqs.transient = {1: 1, 3: 2}
    jobs = lambda_jobs.enqueue_many(add.prepare(n) for n in range(5))

    assert len(jobs) == 5
    assert scripted_sqs.requests == [[0, 1, 2, 3, 4], [1, 3], [3]]


def test_goat_bulk_reports_entries_still_refused_after_the_last_retry(
    scripted_sqs: ScriptedSqs,
) -> None:
    scripted_sqs.transient = {2: 99}
    scripted_sqs.permanent = {4}
    prepared = [add.prepare(n) for n in range(6)]

    with pytest.raises(EnqueueError) as caught:
        lambda_jobs.enqueue_many(prepared)

    error = caught.value
    assert error.job_ids == (prepared[2].id, prepared[4].id)
    assert error.sent_ids == tuple(prepared[n].id for n in (0, 1, 3, 5))
    assert error.errors[prepared[2].id] == "InternalError: try again (still refused after 4 sends)"
    assert error.errors[prepared[4].id] == "InvalidMessageContents: refused for good"
    # The permanent refusal was not retried; the transient one was sent 4 times in all.
    assert scripted_sqs.requests == [[0, 1, 2, 3, 4, 5], [2], [2], [2]]
