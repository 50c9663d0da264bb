"""Lamb handler: async-invoke payloads and scheduler deliveries, checked in moto.

Pinned behaviour: runs the envelope; on failure with attempts
left re-sends itself (attempt + 1) through a one-time EventBridge Scheduler schedule for the
backoff; exhausted (and poison) → DLQ; returns normally so Lambda's own retries are left for
crashes; if the retry schedule or the DLQ send fails, it raises so nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs.errors import ConfigurationError, InvalidJobError
from lambda_jobs.scheduling import one_time
from lambda_jobs.worker.coldstart import Runtime, cold_start
from lambda_jobs.worker.dispatch import dispatch
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

TASKS = "tests.runtime.sample_tasks"
T = f"{TASKS}."
GROUP = "lambda-jobs"
ROLE_ARN = f"arn:aws:iam::{ev.ACCOUNT}:role/scheduler-invokes-jobs"


class Lamb:
    """A DLQ and a schedule group in moto, scheduler variables set, a cold-started runtime."""

    def __init__(self, server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sqs = boto_client(server, "sqs")
        self.scheduler = boto_client(server, "scheduler")
        self.scheduler.create_schedule_group(Name=GROUP)
        self.dlq_url, _ = ev.make_queue(self.sqs, "jobs-dlq")
        monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", self.dlq_url)
        monkeypatch.setenv("LAMBDA_JOBS_SCHEDULER_GROUP", GROUP)
        monkeypatch.setenv("LAMBDA_JOBS_SCHEDULER_ROLE_ARN", ROLE_ARN)
        self.runtime: Runtime = cold_start({"LAMBDA_JOBS_TASKS": TASKS})

    def invoke(self, event: Any) -> Any:
        return dispatch(event, ev.Context(), self.runtime)

    def schedules(self) -> list[dict[str, Any]]:
        names = [s["Name"] for s in self.scheduler.list_schedules(GroupName=GROUP)["Schedules"]]
        return [self.scheduler.get_schedule(Name=n, GroupName=GROUP) for n in names]


@pytest.fixture
def lamb(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lamb]:
    yield Lamb(moto, monkeypatch)


def test_async_payload_runs_the_job_and_returns_normally(lamb: Lamb, tmp_path: Path):
    job = ev.envelope(T + "write_file", str(tmp_path / "out"), "hello")
    assert lamb.invoke(job.to_dict()) == {"job_id": job.id, "outcome": "succeeded"}
    assert (tmp_path / "out").read_text() == "hello"
    assert lamb.schedules() == []
    assert ev.queue_is_empty(lamb.sqs, lamb.dlq_url)


def test_failure_with_attempts_left_schedules_attempt_plus_one_to_the_function(
    lamb: Lamb, tmp_path: Path
):
    job = ev.envelope(T + "fail_until", str(tmp_path / "runs"), 3)  # retry_backoff=1 s
    before = datetime.now(UTC)
    result = lamb.invoke(job.to_dict())
    after = datetime.now(UTC)
    assert result["outcome"] == "retrying"
    [schedule] = lamb.schedules()
    assert schedule["Name"] == one_time.schedule_name(job.id, 2)
    assert schedule["Target"]["Arn"] == ev.FUNCTION_ARN
    assert schedule["Target"]["RoleArn"] == ROLE_ARN
    assert schedule["ActionAfterCompletion"] == "DELETE"
    # an undeliverable retry dead-letters to the backend's DLQ, named by its ARN
    dlq_arn = lamb.sqs.get_queue_attributes(QueueUrl=lamb.dlq_url, AttributeNames=["QueueArn"])
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": dlq_arn["Attributes"]["QueueArn"]}
    delivery = json.loads(schedule["Target"]["Input"])
    assert one_time.is_lamb_delivery(delivery)
    assert delivery["job"] == job.with_attempt(2).to_dict()
    at = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)")
    at = at.replace(tzinfo=UTC)
    # the backoff (1 s, jittered into 0.5..1 s, rounded up) counts from when the attempt failed
    assert before < at <= after + timedelta(seconds=2)
    assert ev.queue_is_empty(lamb.sqs, lamb.dlq_url)


def test_scheduler_delivery_runs_the_job_at_its_attempt(lamb: Lamb, tmp_path: Path):
    out = tmp_path / "context.json"
    job = ev.envelope(T + "record_context", str(out)).with_attempt(3)
    delivery = one_time.lamb_delivery(job)
    delivery["schedule_arn"] = f"arn:aws:scheduler:{ev.REGION}:{ev.ACCOUNT}:schedule/{GROUP}/x"
    delivery["scheduled_time"] = "2026-11-27T21:00:00Z"
    assert lamb.invoke(delivery) == {"job_id": job.id, "outcome": "succeeded"}
    seen = json.loads(out.read_text())
    assert seen["attempt"] == 3
    assert seen["max_attempts"] == 5
    assert seen["job_id"] == job.id


def test_exhausted_job_reaches_dlq_and_returns_normally(lamb: Lamb, tmp_path: Path):
    job = ev.envelope(T + "always_fail", str(tmp_path / "runs"))
    result = lamb.invoke(job.to_dict())
    assert result == {"job_id": job.id, "outcome": "dead_lettered", "reason": "exhausted"}
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert json.loads(entry["body"]) == job.to_dict()
    assert entry["reason"] == "exhausted"
    assert entry["error_type"] == "ValueError"
    assert entry["error_message"] == "this task always fails"
    assert "always_fail" in entry["error_traceback"]
    assert entry["attempts"] == "1"
    assert entry["source"] == ev.FUNCTION_ARN
    assert entry["task"] == T + "always_fail"
    assert entry["job_id"] == job.id
    assert lamb.schedules() == []


def test_dead_letter_body_is_the_payload_as_sent_not_escaped(lamb: Lamb, tmp_path: Path):
    """UTF-8 text stays as the client wrote it, so the entry is no larger than the payload (which
    the client keeps 16 KiB under SQS's 1 MiB for the entry's attributes)."""
    job = ev.envelope(T + "always_fail", str(tmp_path / "réunion-été"))
    lamb.invoke(job.to_dict())
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert "réunion-été" in entry["body"]
    assert entry["body"].encode() == job.to_json().encode()


def test_a_retry_too_large_for_a_schedule_raises_naming_the_limit_so_lambda_keeps_it(
    lamb: Lamb, capsys: pytest.CaptureFixture[str]
):
    """Over Scheduler's 256 KB no schedule is asked for (AWS would refuse it): the handler
    raises, so Lambda's own async retries and on-failure destination keep the job."""
    job = ev.envelope(T + "fail_with_retries", "x" * (300 * 1024))  # the path cannot be opened
    with pytest.raises(InvalidJobError, match=r"over EventBridge Scheduler's limit of 262,144"):
        lamb.invoke(job.to_dict())
    assert lamb.schedules() == []
    assert ev.queue_is_empty(lamb.sqs, lamb.dlq_url)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["outcome"] == "retrying"
    assert "262,144" in line["aws_error"]


def test_last_attempt_from_a_scheduler_delivery_reaches_dlq(lamb: Lamb, tmp_path: Path):
    job = ev.envelope(T + "fail_until", str(tmp_path / "runs"), 99).with_attempt(3)  # max 3
    result = lamb.invoke(one_time.lamb_delivery(job))
    assert result["outcome"] == "dead_lettered"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert entry["attempts"] == "3"
    assert json.loads(entry["body"])["attempt"] == 3


@pytest.mark.parametrize(
    ("payload", "reason", "message_part"),
    [
        (
            {"lambda_jobs": 2, "id": "j-1", "task": "x"},
            "undecodable",
            "unsupported envelope version 2",
        ),
        ({"lambda_jobs": 1, "id": 7}, "undecodable", "'id' must be a non-empty string"),
    ],
)
def test_undecodable_payload_reaches_dlq(lamb: Lamb, payload: Any, reason: str, message_part: str):
    result = lamb.invoke(payload)
    assert result["outcome"] == "dead_lettered"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert json.loads(entry["body"]) == payload
    assert entry["reason"] == reason
    assert message_part in entry["error_message"]


def test_scheduler_delivery_with_a_broken_job_reaches_dlq(lamb: Lamb):
    result = lamb.invoke({"source": "lambda_jobs.scheduler", "job": "not an envelope"})
    assert result["outcome"] == "dead_lettered"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert json.loads(entry["body"]) == "not an envelope"
    assert entry["reason"] == "undecodable"


def test_unknown_task_reaches_dlq(lamb: Lamb):
    job = ev.envelope("app.tasks.gone")
    assert lamb.invoke(job.to_dict())["reason"] == "unknown_task"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert entry["task"] == "app.tasks.gone"
    assert entry["job_id"] == job.id


def test_task_timeout_is_enforced_for_lamb_jobs(lamb: Lamb, tmp_path: Path):
    job = ev.envelope(T + "sleep_past_timeout", str(tmp_path / "trace"), 5)
    assert lamb.invoke(job.to_dict())["outcome"] == "dead_lettered"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"
    assert (tmp_path / "trace").read_text().splitlines() == ["started"]


def test_missing_scheduler_settings_raise_so_lambda_keeps_the_job(
    lamb: Lamb, tmp_path: Path, monkeypatch
):
    monkeypatch.delenv("LAMBDA_JOBS_SCHEDULER_GROUP")
    job = ev.envelope(T + "fail_with_retries", str(tmp_path / "runs"))
    with pytest.raises(ConfigurationError, match="LAMBDA_JOBS_SCHEDULER_GROUP"):
        lamb.invoke(job.to_dict())


def test_failed_schedule_creation_raises_so_lambda_keeps_the_job(
    lamb: Lamb, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("LAMBDA_JOBS_SCHEDULER_GROUP", "no-such-group")
    job = ev.envelope(T + "fail_with_retries", str(tmp_path / "runs"))
    with pytest.raises(Exception, match="CreateSchedule"):
        lamb.invoke(job.to_dict())


def test_failed_dlq_send_raises_so_lambda_keeps_the_job(lamb: Lamb, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LAMBDA_JOBS_DLQ_URL", lamb.dlq_url + "-missing")
    job = ev.envelope(T + "always_fail", str(tmp_path / "runs"))
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        lamb.invoke(job.to_dict())


@pytest.mark.parametrize(
    "event",
    [{"hello": "world"}, [1, 2], "text", None, {"Records": [{"eventSource": "aws:s3"}]}],
)
def test_unrecognised_event_is_answered_with_an_error_not_raised(lamb: Lamb, event: Any, capsys):
    result = lamb.invoke(event)
    assert "does not recognise" in result["error"]
    logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert logged["type"] == "lambda_jobs.unrecognised_event"
    assert "world" not in json.dumps(logged)  # key names only, never values
