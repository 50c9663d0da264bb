"""Lamb enqueue: asynchronous Invoke of the lane's function, schedules for delays, bulk, errors.

moto_server's Lambda (without Docker, ``use_docker: false``) accepts ``Invoke`` with
``InvocationType=Event`` and answers 202, but it keeps no record of what it received. So most tests
point the configuration's ``endpoints.lambda`` at a small HTTP server in the test that records each
``Invoke`` request (``/2015-03-31/functions/<name>/invocations``) and answers as Lambda does; one
test runs against moto's Lambda itself (202, payload echoed back) and one against moto's "function
not found". Schedules are created in moto's EventBridge Scheduler.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import lambda_jobs
import pytest
from lambda_jobs import EnqueueError, aws, envelope, task
from lambda_jobs.scheduling import one_time
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime.enqueue_backends import (
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    config_document,
    function_arn,
    lane,
    use_config,
)

LOW = function_arn("jobs-default-low")
HIGH = function_arn("jobs-default-high")


@task
def greet(name: str) -> str:
    return f"hello {name}"


@task(queue_name="reports")
def report(n: int) -> None:
    return None


class Invocation:
    def __init__(self, function: str, invocation_type: str | None, payload: bytes) -> None:
        self.function = function
        self.invocation_type = invocation_type
        self.payload = payload

    @property
    def envelope(self) -> envelope.Envelope:
        return envelope.from_json(self.payload)


class LambdaRecorder:
    """An HTTP server that answers Lambda ``Invoke`` like Lambda does and records each request.

    ``status`` maps a function name to the status to answer (default 202); 404 comes with
    Lambda's ``ResourceNotFoundException`` body. ``hold_for`` makes each request wait (up to 2 s)
    until that many have arrived, so the first ones are in flight together if, and only if, the
    client sends in parallel.
    """

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.status: dict[str, int] = {}
        self.hold_for = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.cond = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                recorder.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        payload = request.rfile.read(int(request.headers.get("Content-Length", "0")))
        parts = request.path.split("?")[0].split("/")
        name = unquote(parts[3]).rsplit(":", 1)[-1] if len(parts) > 3 else ""
        with self.cond:
            self.invocations.append(
                Invocation(name, request.headers.get("X-Amz-Invocation-Type"), payload)
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.cond.notify_all()
            deadline = time.monotonic() + 2
            while len(self.invocations) < self.hold_for and time.monotonic() < deadline:
                self.cond.wait(timeout=deadline - time.monotonic())
            self.in_flight -= 1
        status = self.status.get(name, 202)
        body = b""
        if status == 404:
            body = json.dumps(
                {"Type": "User", "message": f"Function not found: {function_arn(name)}"}
            ).encode()
        request.send_response(status)
        if status == 404:
            request.send_header("x-amzn-ErrorType", "ResourceNotFoundException")
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lamb_document(lambda_endpoint: str | None, *, scheduler: bool = True) -> dict[str, Any]:
    document = config_document(
        "lamb",
        {
            "default": {"lanes": [lane(-100, 49, LOW, LOW), lane(50, 100, HIGH, HIGH)]},
            "reports": {
                "lanes": [lane(-100, 100, function_arn("gone"), function_arn("gone"))],
            },
        },
        scheduler=scheduler,
    )
    if lambda_endpoint is not None:
        document["endpoints"] = {"lambda": lambda_endpoint}
    return document


@pytest.fixture
def recorder(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaRecorder]:
    """LAMBDA_JOBS_CONFIG = a Lamb backend whose Invoke goes to the recorder, schedules to moto."""
    boto_client(moto, "scheduler").create_schedule_group(Name=SCHEDULE_GROUP)
    server = LambdaRecorder()
    use_config(monkeypatch, lamb_document(server.url))
    yield server
    server.stop()


def test_lamb_enqueue_invokes_the_lane_function_asynchronously_with_the_envelope(
    recorder: LambdaRecorder,
) -> None:
    job = greet.enqueue("ada")

    (call,) = recorder.invocations
    assert call.function == "jobs-default-low"
    assert call.invocation_type == "Event"
    body = call.envelope
    assert (body.id, body.task, body.args, body.attempt) == (job.id, greet.name, ["ada"], 1)
    assert body.run_after is None
    assert call.payload.decode() == body.to_json()


def test_lamb_priority_picks_the_lane_function(recorder: LambdaRecorder) -> None:
    urgent = greet.using(priority=100).enqueue("x")
    normal = greet.using(priority=49).enqueue("y")

    by_id = {call.envelope.id: call.function for call in recorder.invocations}
    assert by_id == {urgent.id: "jobs-default-high", normal.id: "jobs-default-low"}


def test_lamb_delay_goes_through_a_schedule_that_invokes_the_function(
    recorder: LambdaRecorder, moto: MotoServer
) -> None:
    job = greet.using(run_after=timedelta(seconds=30), priority=70).enqueue("later")

    assert recorder.invocations == []
    scheduler = boto_client(moto, "scheduler")
    (listed,) = scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    schedule = scheduler.get_schedule(Name=listed["Name"], GroupName=SCHEDULE_GROUP)
    assert schedule["Target"]["Arn"] == HIGH
    assert schedule["Target"]["RoleArn"] == SCHEDULER_ROLE_ARN
    assert schedule["ActionAfterCompletion"] == "DELETE"
    # undeliverable: to the backend's (standard) dead-letter queue, not dropped
    dead_letter_arn = lamb_document(None)["dead_letter_queue"]["arn"]
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": dead_letter_arn}
    delivery = json.loads(schedule["Target"]["Input"])
    assert one_time.is_lamb_delivery(delivery)
    assert delivery["scheduled_time"] == "<aws.scheduler.scheduled-time>"
    assert envelope.from_dict(delivery["job"]).id == job.id
    when = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)")
    assert (
        timedelta(seconds=29) < when.replace(tzinfo=UTC) - job.enqueued_at <= timedelta(seconds=31)
    )


def test_lamb_schedule_input_is_utf8_and_measured_like_the_envelope(
    recorder: LambdaRecorder, moto: MotoServer
) -> None:
    """Scheduler counts its input's UTF-8 bytes: non-ASCII arguments are sent unescaped and count
    2 bytes per "é", as in the envelope (issue 29: they counted 6, escaped)."""
    fits = greet.using(run_after=timedelta(seconds=30)).enqueue("é" * 100_000)  # 200,000 bytes
    scheduler = boto_client(moto, "scheduler")
    (listed,) = scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]
    text = scheduler.get_schedule(Name=listed["Name"], GroupName=SCHEDULE_GROUP)["Target"]["Input"]
    assert "é" * 100_000 in text and "\\u00e9" not in text
    delivery = json.loads(text)
    job_text = envelope.from_dict(delivery["job"]).to_json()
    assert envelope.from_dict(delivery["job"]).id == fits.id
    assert len(text.encode()) - len(job_text.encode()) < 200  # the delivery's own fields
    over = "é" * (one_time.MAX_INPUT_BYTES // 2)
    with pytest.raises(
        lambda_jobs.InvalidJobError, match=r"is 262,\d{3} bytes as a schedule input"
    ):
        greet.using(run_after=timedelta(seconds=30)).enqueue(over)


def test_lamb_bulk_invokes_every_job_in_parallel(recorder: LambdaRecorder) -> None:
    recorder.hold_for = 4
    jobs = lambda_jobs.enqueue_many(greet.prepare(str(i)) for i in range(12))

    assert sorted(call.envelope.id for call in recorder.invocations) == sorted(j.id for j in jobs)
    assert len({job.id for job in jobs}) == 12
    assert recorder.max_in_flight >= 4
    assert all(call.invocation_type == "Event" for call in recorder.invocations)


def test_lamb_answer_other_than_202_is_an_enqueue_error(recorder: LambdaRecorder) -> None:
    recorder.status["jobs-default-low"] = 200
    prepared = greet.prepare("sync")

    with pytest.raises(EnqueueError) as caught:
        lambda_jobs.enqueue_many([prepared])

    assert caught.value.job_ids == (prepared.id,)
    assert "200, not 202" in str(caught.value)


def test_lamb_bulk_partial_failure_names_exactly_the_failed_and_sent_jobs(
    recorder: LambdaRecorder,
) -> None:
    recorder.status["gone"] = 404
    ok = [greet.prepare(str(i)) for i in range(5)]
    bad = [report.prepare(i) for i in range(2)]

    with pytest.raises(EnqueueError) as caught:
        lambda_jobs.enqueue_many([ok[0], bad[0], *ok[1:], bad[1]])

    assert caught.value.job_ids == (bad[0].id, bad[1].id)
    assert caught.value.sent_ids == tuple(p.id for p in ok)
    assert "ResourceNotFoundException" in caught.value.errors[bad[0].id]
    assert "2 of 7 jobs were not enqueued to the lamb backend" in str(caught.value)


def _set_moto_lambda_docker(server: MotoServer, use_docker: bool) -> None:
    request = urllib.request.Request(
        f"{server.url}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": use_docker}}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_lamb_enqueue_to_a_moto_lambda_function_is_accepted_with_202(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = boto_client(moto, "iam")
    role = iam.create_role(RoleName="job-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    boto_client(moto, "lambda").create_function(
        FunctionName="jobs-default-low",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": code.getvalue()},
    )
    use_config(monkeypatch, lamb_document(None))
    answers: list[tuple[int, bytes]] = []
    from lambda_jobs import config

    aws.client("lambda", config.load()).meta.events.register(
        "after-call.lambda.Invoke",
        lambda http_response, parsed, **_: answers.append(
            (parsed["StatusCode"], http_response.content)
        ),
    )
    _set_moto_lambda_docker(moto, False)
    try:
        job = greet.enqueue("moto")
    finally:
        _set_moto_lambda_docker(moto, True)

    ((status, echoed),) = answers
    assert status == 202
    # moto's Docker-less Lambda echoes the event it was given: the envelope, byte for byte.
    assert envelope.from_json(echoed).id == job.id


def test_lamb_enqueue_to_a_missing_function_raises_enqueue_error(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config(monkeypatch, lamb_document(None))

    with pytest.raises(EnqueueError) as caught:
        greet.enqueue("nobody")

    assert len(caught.value.job_ids) == 1
    assert "ResourceNotFoundException" in str(caught.value)
    assert "Function not found" in str(caught.value)
