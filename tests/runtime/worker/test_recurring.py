"""Recurring deliveries through the handler: decoded by the triage into their firing's job.

A recurring schedule's ``Input`` (``lambda_jobs.scheduling.recurring``) reaches Lamb as the invoke
payload and Goat as the SQS body; these tests hand the handler the input as Scheduler fills it in
and check the job that runs (its id from the firing, its context), the retry that carries the firing
on, and what a firing that cannot run leaves in the DLQ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs.errors import EnvelopeError
from lambda_jobs.scheduling import recurring

from tests.runtime import lambda_events as ev
from tests.runtime.worker.test_goat import Goat, goat  # noqa: F401 (fixture)
from tests.runtime.worker.test_lamb import Lamb, lamb  # noqa: F401 (fixture)

T = "tests.runtime.sample_tasks."
ARN = f"arn:aws:scheduler:us-east-1:{ev.ACCOUNT}:schedule/lambda-jobs/nightly"
STAMP = "2026-12-04T03:00:00Z"


def firing(task: str, *args: Any, stamp: str = STAMP, **kwargs: Any) -> dict[str, Any]:
    """The recurring delivery as Scheduler delivers it (placeholders filled in)."""
    text = recurring.target_input(
        schedule="nightly", task=task, args=list(args), kwargs=kwargs, queue="default", priority=0
    )
    text = text.replace(recurring.SCHEDULE_ARN, ARN).replace(recurring.SCHEDULED_TIME, stamp)
    data: dict[str, Any] = json.loads(text)
    return data


def test_a_firing_becomes_an_envelope_whose_id_is_derived_from_the_firing() -> None:
    one = recurring.envelope_of(firing(T + "write_file", "/tmp/x", "hi"))
    again = recurring.envelope_of(firing(T + "write_file", "/tmp/x", "hi"))
    later = recurring.envelope_of(
        firing(T + "write_file", "/tmp/x", "hi", stamp="2026-12-05T03:00:00Z")
    )
    assert one.id == again.id == recurring.job_id(ARN, STAMP)
    assert later.id != one.id
    assert one.task == T + "write_file" and one.args == ["/tmp/x", "hi"] and one.attempt == 1
    assert one.enqueued_at.isoformat() == "2026-12-04T03:00:00+00:00"
    assert one.schedule == {"name": "nightly", "scheduled_time": STAMP, "arn": ARN}
    # The envelope keeps the firing when it travels on (retries, hand-backs).
    assert json.loads(one.to_json())["schedule"] == one.schedule


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scheduled_time": recurring.SCHEDULED_TIME}, r"'scheduled_time' is not an ISO 8601 time"),
        ({"schedule": ""}, r"recurring delivery field 'schedule' must be a name"),
        ({"job": []}, r"recurring delivery field 'job' must be a JSON object"),
        (
            {"job": {"task": "a.b", "pickle": 1}},
            r"recurring delivery job has unknown fields: pickle",
        ),
        ({"job": {"task": ""}}, r"envelope field 'task' must be a non-empty string"),
    ],
)
def test_a_malformed_firing_is_refused_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(EnvelopeError, match=message):
        recurring.envelope_of({**firing(T + "write_file"), **change})


def test_lamb_runs_a_firing_with_its_schedule_in_the_context(
    lamb: Lamb,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "context.json"
    result = lamb.invoke(firing(T + "record_context", str(out)))
    [line] = [
        json.loads(text)
        for text in capsys.readouterr().out.splitlines()
        if "lambda_jobs.job" in text
    ]
    assert line["outcome"] == "succeeded" and line["schedule"] == "nightly"
    assert line["id"] == recurring.job_id(ARN, STAMP)
    assert result == {"job_id": recurring.job_id(ARN, STAMP), "outcome": "succeeded"}
    seen = json.loads(out.read_text())
    assert seen["from_schedule"] is True
    assert seen["schedule_name"] == "nightly"
    assert seen["scheduled_time"] == "2026-12-04T03:00:00+00:00"
    assert seen["job_id"] == recurring.job_id(ARN, STAMP)
    assert seen["enqueued_at"] == "2026-12-04T03:00:00+00:00"


def test_lamb_retry_of_a_firing_keeps_its_id_and_schedule(lamb: Lamb, tmp_path: Path) -> None:  # noqa: F811
    result = lamb.invoke(firing(T + "fail_until", str(tmp_path / "runs"), 3))
    assert result["outcome"] == "retrying"
    [schedule] = lamb.schedules()
    retried = json.loads(schedule["Target"]["Input"])["job"]
    assert retried["id"] == recurring.job_id(ARN, STAMP)
    assert retried["attempt"] == 2
    assert retried["schedule"]["name"] == "nightly"


def test_lamb_firing_of_an_unknown_task_is_dead_lettered(lamb: Lamb) -> None:  # noqa: F811
    delivery = firing(T + "no_such_task")
    result = lamb.invoke(delivery)
    assert result["outcome"] == "dead_lettered" and result["reason"] == "unknown_task"
    [entry] = ev.dead_letters(lamb.sqs, lamb.dlq_url, 1)
    assert entry["reason"] == "unknown_task"
    assert entry["task"] == T + "no_such_task"
    assert entry["job_id"] == recurring.job_id(ARN, STAMP)
    assert json.loads(entry["body"]) == delivery  # as it arrived: a redrive sends it back


def test_goat_runs_a_firing_from_the_sqs_body(goat: Goat, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "context.json"
    goat.send(json.dumps(firing(T + "record_context", str(out))))
    _event, result = goat.run(1)
    assert result == {"batchItemFailures": []}
    seen = json.loads(out.read_text())
    assert seen["schedule_name"] == "nightly" and seen["attempt"] == 1


def test_goat_firing_that_is_not_decodable_is_dead_lettered_with_its_task(goat: Goat) -> None:  # noqa: F811
    body = json.dumps({**firing(T + "write_file"), "scheduled_time": "not a time"})
    goat.send(body)
    _event, result = goat.run(1)
    assert result == {"batchItemFailures": []}
    [entry] = ev.dead_letters(goat.sqs, goat.dlq_url, 1)
    assert entry["reason"] == "undecodable"
    assert entry["task"] == T + "write_file"
    assert entry["body"] == body


def test_a_dead_lettered_goat_firing_reads_back_as_its_envelope_for_redrive(
    goat: Goat,  # noqa: F811
    tmp_path: Path,
) -> None:
    from lambda_jobs_tools.ops import dead_letters

    goat.send(json.dumps(firing(T + "always_fail", str(tmp_path / "runs"))))
    goat.run(1)
    [message] = goat.sqs.receive_message(
        QueueUrl=goat.dlq_url, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    entry = dead_letters.parse(message)
    assert entry.job_id == recurring.job_id(ARN, STAMP)
    assert entry.reason == "exhausted" and entry.task == T + "always_fail"
    assert entry.envelope is not None
    assert entry.envelope["id"] == entry.job_id
    assert entry.envelope["schedule"]["name"] == "nightly"
