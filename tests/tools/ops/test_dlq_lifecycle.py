"""A failed job from enqueue to redrive, against the moto server with the real handler.

Pinned behaviour: ``enqueue`` by name; a failing job lands in the DLQ;
``dlq list`` / ``dlq show`` show task, attempts, error type and message, first and last failure
time, arguments only with ``--show-args``, and consume nothing; ``dlq redrive`` brings it back to
the lane it came from with the attempt counter reset, and it runs again; ``--task``,
``--older-than`` and ``--dry-run`` select; undecodable entries are skipped, not lost; Lambda
destination records are read; ``dlq purge`` asks first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tools.ops.conftest import TASKS, OpsBackend, cli_json, cli_run

FLAKY = f"{TASKS}.flaky"


def enqueue_failing(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], path: Path, *extra: str
) -> str:
    """Enqueue ``flaky(path)`` told to fail, through ``lambda-jobs enqueue``; returns the job id."""
    (Path(str(path) + ".fail")).touch()
    status, out, err = cli_run(capsys, "enqueue", FLAKY, "--args", json.dumps([str(path)]), *extra)
    assert status == 0, err
    return out.strip()


def test_failing_job_lands_in_dlq_is_listed_redriven_and_runs_again(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    path = tmp_path / "job"
    job_id = enqueue_failing(goat, capsys, path)
    assert goat.run(goat.low_url, 1) == {"batchItemFailures": []}  # dead-lettered, acknowledged

    [listed] = cli_json(capsys, "dlq", "list")
    assert listed["job_id"] == job_id
    assert listed["task"] == FLAKY
    assert listed["attempts"] == 1
    assert listed["reason"] == "exhausted"
    assert listed["error_type"] == "RuntimeError"
    assert "flaky job told to fail" in listed["error_message"]
    assert listed["first_failed_at"] == listed["last_failed_at"] is not None
    assert "arguments" not in listed
    # Looking consumed nothing: the entry is visible again at once.
    goat.wait_visible(goat.dlq_url, 1, timeout=2)

    status, table, _ = cli_run(capsys, "dlq", "list")
    assert status == 0
    assert job_id in table and "RuntimeError" in table and str(path) not in table
    status, table, _ = cli_run(capsys, "dlq", "list", "--show-args")
    assert "arguments" in table
    [with_args] = cli_json(capsys, "dlq", "list", "--show-args")
    assert json.loads(with_args["arguments"]) == {"args": [str(path)], "kwargs": {}}

    shown = cli_json(capsys, "dlq", "show", job_id)
    assert shown["source"] == goat.low_arn
    assert "RuntimeError" in shown["error_traceback"]
    assert "arguments" not in shown
    status, details, _ = cli_run(capsys, "dlq", "show", job_id, "--show-args")
    assert status == 0 and "arguments" in details and "traceback" in details
    assert str(path) in cli_json(capsys, "dlq", "show", job_id, "--show-args")["arguments"]

    Path(str(path) + ".fail").unlink()
    status, _, err = cli_run(capsys, "dlq", "redrive", "--journal", str(tmp_path / "j"))
    assert status == 0, err
    assert "1 redriven" in err
    assert goat.depth(goat.dlq_url) == 0
    assert goat.run(goat.low_url, 1) == {"batchItemFailures": []}
    assert path.read_text() == "ran\n"
    assert not (tmp_path / "j").exists()  # the journal is removed once every copy is deleted


def test_redrive_goes_back_to_the_source_lane_with_attempt_reset(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    job_id = enqueue_failing(goat, capsys, tmp_path / "high", "--priority", "50")
    goat.run(goat.high_url, 1)
    # Make the DLQ body look like a later attempt (as a deadline hand-back copy would be).
    [entry] = goat.drain(goat.dlq_url)
    body = json.loads(entry["Body"])
    body["attempt"] = 3
    sent = goat.sqs.send_message(
        QueueUrl=goat.dlq_url,
        MessageBody=json.dumps(body),
        MessageAttributes=entry["MessageAttributes"],
    )
    cli_run(capsys, "dlq", "redrive", "--journal", str(tmp_path / "j"))
    [copy] = goat.drain(goat.high_url)
    envelope = json.loads(copy["Body"])
    assert (envelope["id"], envelope["attempt"]) == (job_id, 1)
    assert copy["Attributes"]["ApproximateReceiveCount"] == "1"
    assert copy["MessageAttributes"]["lambda_jobs.redrive_of"]["StringValue"] == sent["MessageId"]
    assert goat.depth(goat.low_url) == 0


def test_redrive_to_a_fifo_lane_keeps_its_group_and_dedup_id(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    path = tmp_path / "fifo"
    Path(str(path) + ".fail").touch()
    status, _, err = cli_run(
        capsys, "enqueue", f"{TASKS}.ordered", "--args", json.dumps([str(path)])
    )
    assert status == 0, err
    goat.run(goat.fifo_url, 1)
    assert goat.depth(goat.dlq_url) == 1
    status, _, err = cli_run(capsys, "dlq", "redrive", "--journal", str(tmp_path / "j"))
    assert status == 0, err
    [copy] = goat.drain(goat.fifo_url)
    assert copy["Attributes"]["MessageGroupId"] == f"{TASKS}.ordered"
    assert copy["Attributes"]["MessageDeduplicationId"].startswith("redrive-")


def test_task_older_than_and_dry_run_select_what_is_redriven(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    enqueue_failing(goat, capsys, tmp_path / "a")
    ordered = tmp_path / "b"
    Path(str(ordered) + ".fail").touch()
    cli_run(capsys, "enqueue", f"{TASKS}.ordered", "--args", json.dumps([str(ordered)]))
    goat.run(goat.low_url, 1)
    goat.run(goat.fifo_url, 1)
    journal = str(tmp_path / "j")

    report = cli_json(capsys, "dlq", "redrive", "--older-than", "1h", "--journal", journal)
    assert report["redriven"] == [] and report["not_selected"] == 2
    report = cli_json(capsys, "dlq", "redrive", "--dry-run", "--journal", journal)
    assert {r["task"] for r in report["redriven"]} == {FLAKY, f"{TASKS}.ordered"}
    assert goat.depth(goat.dlq_url) == 2  # a dry run changes nothing
    goat.wait_visible(goat.dlq_url, 2, timeout=2)

    report = cli_json(capsys, "dlq", "redrive", "--task", FLAKY, "--journal", journal)
    assert [r["task"] for r in report["redriven"]] == [FLAKY]
    assert report["not_selected"] == 1
    assert goat.depth(goat.low_url) == 1 and goat.depth(goat.fifo_url) == 0
    [left] = cli_json(capsys, "dlq", "list")
    assert left["task"] == f"{TASKS}.ordered"


def test_undecodable_entry_is_skipped_and_kept(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    goat.sqs.send_message(QueueUrl=goat.low_url, MessageBody="not json at all")
    goat.run(goat.low_url, 1)
    [listed] = cli_json(capsys, "dlq", "list")
    assert listed["reason"] == "undecodable"
    report = cli_json(capsys, "dlq", "redrive", "--journal", str(tmp_path / "j"))
    assert report["redriven"] == []
    assert "not a lambda-jobs envelope" in report["skipped"][0]["why"]
    goat.wait_visible(goat.dlq_url, 1, timeout=2)


def test_lambda_destination_record_is_listed_with_its_error(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str]
):
    envelope = {
        "lambda_jobs": 1,
        "id": "job-1",
        "task": FLAKY,
        "args": ["secret-arg"],
        "kwargs": {},
        "queue": "default",
        "priority": 0,
        "enqueued_at": "2026-11-27T20:00:00.000+00:00",
        "run_after": None,
        "attempt": 1,
        "overrides": {},
    }
    record = {
        "version": "1.0",
        "timestamp": "2026-11-27T20:05:00.000Z",
        "requestContext": {
            "requestId": "r-1",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:jobs:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"source": "lambda_jobs.scheduler", "job": envelope},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": "Runtime exited", "errorType": "Runtime.ExitError"},
    }
    goat.sqs.send_message(QueueUrl=goat.dlq_url, MessageBody=json.dumps(record))
    [listed] = cli_json(capsys, "dlq", "list")
    assert (listed["job_id"], listed["task"], listed["attempts"]) == ("job-1", FLAKY, 3)
    assert (listed["reason"], listed["error_type"]) == ("RetriesExhausted", "Runtime.ExitError")
    assert listed["last_failed_at"].startswith("2026-11-27T20:05:00")
    shown = cli_json(capsys, "dlq", "show", "job-1")
    assert shown["source"] == "arn:aws:lambda:us-east-1:123456789012:function:jobs"
    assert "secret-arg" not in json.dumps(shown)


def test_purge_asks_first_and_deletes_with_yes(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    enqueue_failing(goat, capsys, tmp_path / "p")
    goat.run(goat.low_url, 1)
    status, _, err = cli_run(capsys, "dlq", "purge")  # stdin is not a terminal: no consent
    assert status == 2
    assert "cannot ask: pass --yes" in err and "nothing was deleted" in err
    assert goat.depth(goat.dlq_url) == 1
    status, _, err = cli_run(capsys, "dlq", "purge", "--yes")
    assert status == 0 and "1 failed job(s) deleted" in err
    assert goat.depth(goat.dlq_url) == 0
