"""Delayed jobs under ``lambda-jobs local``: a cancel that lasts, schedules that dead-letter.

Both demo backends have a job store (ttl 7 days). A delay a schedule carries: every Lamb delay,
any delay on Goat's FIFO queue ``ordered`` (and Goat delays over 900 s).

- A cancelled job never runs: the cancel deletes its pending one-time schedule, so even once its
  item is gone (DynamoDB's TTL, done by hand here: moto never expires items) nothing fires.
- An item's ``ttl`` is never earlier than its ``run_after`` plus the store's ttl, enqueued or
  cancelled; ``lambda-jobs status`` counts only live schedules.
- A one-time schedule whose target is gone when it fires (a lane replaced, say) dead-letters to
  the backend's DLQ (``DeadLetterConfig``), where ``lambda-jobs dlq`` lists the job and redrive
  runs it.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lambda_jobs
import pytest
from lambda_jobs import aws
from lambda_jobs.config import parse_text
from lambda_jobs_tools import cli
from lambda_jobs_tools.ops.status_command import scheduled_by_target

from tests.e2e.conftest import OPERATOR_ROLE, Backend, demo_tasks, poll

pytestmark = pytest.mark.e2e

STORE_TTL = 7 * 24 * 3600  # the demo stacks' JobStore(ttl=Duration.days(7))


def _queue(backend: Backend) -> str:
    """A queue on which every delay goes through a one-time schedule."""
    return "ordered" if backend.name == "goat" else "default"


def _client(backend: Backend, service: str) -> Any:
    import boto3

    return boto3.client(  # type: ignore[call-overload]  # boto3-stubs want a literal name
        service,
        endpoint_url=backend.config["endpoints"][service],
        region_name=backend.config["region"],
        aws_access_key_id=OPERATOR_ROLE,  # looks as an operator does (IAM: grant_operate)
        aws_secret_access_key="testing",
    )


def _schedule_names(backend: Backend) -> set[str]:
    group = backend.config["scheduler"]["group"]
    listed = _client(backend, "scheduler").list_schedules(GroupName=group)["Schedules"]
    return {str(s["Name"]) for s in listed}


def _item(backend: Backend, job_id: str) -> dict[str, Any] | None:
    table = backend.config["job_store"]["table"]
    found = _client(backend, "dynamodb").get_item(
        TableName=table, Key={"pk": {"S": job_id}}, ConsistentRead=True
    )
    item: dict[str, Any] | None = found.get("Item")
    return item


def _ran(backend: Backend, who: str) -> bool:
    return bool(backend.events(task="hello", greeting=f"Hello, {who}!"))


def test_a_cancelled_delayed_job_never_runs_even_once_its_item_is_gone(backend: Backend) -> None:
    cancelled_who, control_who = f"cancel-{uuid.uuid4().hex[:8]}", f"ctl-{uuid.uuid4().hex[:8]}"
    # Long enough that its schedule is still pending when looked at, on a loaded machine too.
    run_after = datetime.now(UTC) + timedelta(seconds=8)
    later = demo_tasks.hello.using(queue_name=_queue(backend), run_after=run_after)
    job = later.enqueue(cancelled_who)
    assert f"lj-{job.id}-a1" in _schedule_names(backend)
    assert lambda_jobs.cancel_job(job.id).status == "cancelled"
    assert f"lj-{job.id}-a1" not in _schedule_names(backend)  # the cancel deleted it
    # As the issue did: the item expires (moto never expires items, so by hand).
    table = backend.config["job_store"]["table"]
    _client(backend, "dynamodb").delete_item(TableName=table, Key={"pk": {"S": job.id}})
    # A control job due at the same moment: once it has run, the cancelled one's time has passed.
    control = later.enqueue(control_who)
    poll(lambda: _ran(backend, control_who), timeout=30, what="the control job to run")
    poll(
        lambda: f"lj-{control.id}-a1" not in _schedule_names(backend),
        timeout=10,
        what="the control job's schedule to delete itself",
    )
    assert not _ran(backend, cancelled_who)
    with pytest.raises(lambda_jobs.UnknownJobError):
        lambda_jobs.get_job(job.id)  # nothing recreated the item: no delivery arrived


def _as_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calls that follow are an operator's (IAM: the role given ``grant_operate``)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", OPERATOR_ROLE)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    aws.reset()


def test_a_long_delay_keeps_the_item_past_run_after_and_a_cancel_leaves_no_schedule(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_after = datetime.now(UTC) + timedelta(days=30)
    job = demo_tasks.hello.using(queue_name=_queue(backend), run_after=run_after).enqueue("later")
    item = _item(backend, job.id)
    assert item is not None
    # Not enqueue time + 7 days (the item would be gone 23 days before the job runs).
    assert float(item["ttl"]["N"]) >= run_after.timestamp() + STORE_TTL
    assert lambda_jobs.get_job(job.id).status == "enqueued"
    config = parse_text(backend.config_value)
    lane = config.queue(_queue(backend)).lane_for(0).arn
    _as_operator(monkeypatch)  # `status` and the cancel, as an operator runs them
    pending = scheduled_by_target(config) or {}
    assert pending.get(lane, 0) >= 1

    lambda_jobs.cancel_job(job.id)
    item = _item(backend, job.id)
    assert item is not None and item["status"]["S"] == "cancelled"
    assert float(item["ttl"]["N"]) >= run_after.timestamp() + STORE_TTL
    assert f"lj-{job.id}-a1" not in _schedule_names(backend)
    # `lambda-jobs status` counts only live schedules: this one is gone.
    assert (scheduled_by_target(config) or {}).get(lane, 0) == pending[lane] - 1


def test_a_schedule_whose_target_is_gone_dead_letters_and_redrive_runs_the_job(
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    who = f"orphan-{uuid.uuid4().hex[:8]}"
    # The configuration of before a lane replacement: the lane's ARN no longer exists.
    old = copy.deepcopy(backend.config)
    lanes = old["queues"][_queue(backend)]["lanes"]
    for lane in lanes:  # ...:function:<name> / ...:<queue name>: a name nothing has
        prefix, name = lane["arn"].rsplit(":", 1)
        lane["arn"] = f"{prefix}:gone-{name}"
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(old))
    aws.reset()
    run_after = timedelta(seconds=1)
    job = demo_tasks.hello.using(queue_name=_queue(backend), run_after=run_after).enqueue(who)
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", backend.config_value)
    _as_operator(monkeypatch)

    def listed() -> dict[str, Any] | None:
        capsys.readouterr()
        assert cli.main(["dlq", "list", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        return next((row for row in rows if row.get("job_id") == job.id), None)

    row = poll(listed, timeout=30, what="the undeliverable firing to reach the DLQ")
    assert row["task"] == "demo_tasks.hello"
    assert not _ran(backend, who)

    capsys.readouterr()
    journal = str(tmp_path / "journal")
    status = cli.main(["dlq", "redrive", "--task", "demo_tasks.hello", "--journal", journal])
    assert status == 0, capsys.readouterr().err
    poll(lambda: _ran(backend, who), timeout=30, what="the redriven job to run")
    poll(lambda: job.refresh().status == "succeeded", timeout=10, what="the store to say so")
