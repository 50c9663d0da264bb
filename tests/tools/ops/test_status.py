"""``lambda-jobs status`` against moto: counts per lane, the DLQ row, pending schedules.

Pinned behaviour: per queue lane visible, in flight, delayed, oldest message age
(``n/a`` locally: CloudWatch's metric does not exist there), DLQ depth and scheduled jobs pending.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tools.ops.conftest import TASKS, OpsBackend, cli_json, cli_run


def test_status_counts_visible_in_flight_delayed_scheduled_and_dead_letters(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    args = json.dumps([str(tmp_path / "x")])
    flaky = f"{TASKS}.flaky"
    for extra in ([], [], ["--delay", "5m"], ["--delay", "2h"], ["--priority", "10"]):
        status, _, err = cli_run(capsys, "enqueue", flaky, "--args", args, *extra)
        assert status == 0, err
    goat.sqs.receive_message(QueueUrl=goat.low_url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    goat.sqs.send_message(QueueUrl=goat.dlq_url, MessageBody="{}")

    rows = {(r["queue"], r["lane"]): r for r in cli_json(capsys, "status")}
    low = rows[("default", "-100..0")]
    assert (low["visible"], low["in_flight"], low["delayed"]) == (1, 1, 1)
    assert low["scheduled"] == 1  # the 2 h delay is a one-time schedule targeting the lane
    assert low["oldest_age_s"] is None  # local: no CloudWatch
    high = rows[("default", "1..100")]
    assert (high["visible"], high["in_flight"], high["delayed"], high["scheduled"]) == (1, 0, 0, 0)
    assert rows[("ordered", "-100..100")]["visible"] == 0
    dlq = rows[("(dead letters)", "")]
    assert dlq["visible"] == 1 and dlq["target"] == "jobs-dlq"

    status, table, _ = cli_run(capsys, "status")
    assert status == 0
    assert "jobs-low" in table and "jobs-dlq" in table and "n/a" in table


def test_lamb_status_shows_pending_schedules_per_function_and_na_for_queues(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    function = "arn:aws:lambda:us-east-1:123456789012:function:jobs-default"
    document = goat.document | {
        "backend": "lamb",
        "queues": {
            "default": {
                "fifo": False,
                "lanes": [
                    {"min_priority": -100, "max_priority": 100, "target": function, "arn": function}
                ],
            }
        },
    }
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(document))
    for _ in range(2):
        status, _, err = cli_run(
            capsys, "enqueue", "x.y", "--name-only", "--args", "[]", "--delay", "1h"
        )
        assert status == 0, err
    rows = cli_json(capsys, "status")
    [lane] = [r for r in rows if r["queue"] == "default"]
    assert lane["scheduled"] == 2
    assert (lane["visible"], lane["in_flight"], lane["delayed"], lane["oldest_age_s"]) == (
        None,
        None,
        None,
        None,
    )
    status, table, _ = cli_run(capsys, "status")
    assert "jobs-default" in table and "n/a" in table


def test_status_counts_only_live_one_time_schedules(
    goat: OpsBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    from tests.conftest import boto_client

    args = json.dumps([str(tmp_path / "x")])
    status, _, err = cli_run(capsys, "enqueue", f"{TASKS}.flaky", "--args", args, "--delay", "2h")
    assert status == 0, err
    # A disabled one-time schedule never fires: not a pending job.
    boto_client(goat.server, "scheduler").create_schedule(
        Name="lj-disabled-a1",
        GroupName="jobs",
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        State="DISABLED",
        Target={"Arn": goat.low_arn, "RoleArn": "arn:aws:iam::123456789012:role/jobs"},
    )
    rows = {(r["queue"], r["lane"]): r for r in cli_json(capsys, "status")}
    assert rows[("default", "-100..0")]["scheduled"] == 1
