"""The operations commands keep their promises under ``lambda-jobs local``, job store on and off.

The app is ``tests.tools.ops.ops_app`` (a Goat backend with and without a job store, a FIFO
queue, a recurring schedule); its tasks (``tests/tools/ops/ops_project``) are steered by files and
count their runs as lines. Pinned behaviour:

- a job with several DLQ entries is redriven as one copy and runs once (the rest acknowledged);
  with a store, an entry of a job that already succeeded is not run again (it stays, skipped);
- a redrive whose send fails leaves the entry in the DLQ and the job's item as it was
  (``jobs show``, ``jobs failures``, ``jobs cancel`` tell the truth); a later redrive runs it once;
- the FIFO crash-net DLQ is counted by ``status`` and read, shown and redriven by ``dlq``;
- ``jobs failures`` shows only what the index holds (no invented times);
- a recurring schedule fires nothing for the time it was disabled, and ``schedules`` shows the
  next firings on the emulator's scaled clock.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws
from lambda_jobs_tools.emulator.process import EmulatorProcess

from tests.e2e.conftest import poll, synthesize
from tests.tools.ops.conftest import cli_json, cli_run
from tests.tools.ops.ops_app import STACKS

STEERED = "ops_jobs.steered"
IN_ORDER = "ops_jobs.steered_in_order"
CLOCK_SCALE = 60


class Local:
    """One ``lambda-jobs local`` running one stack of the ops app, as the tests see it."""

    def __init__(self, name: str, emulator: EmulatorProcess, ticks: Path) -> None:
        self.name = name
        self.store = name == "store"
        self.emulator = emulator
        self.ticks = ticks
        self.config_value = emulator.configs["goat"]
        self.config: dict[str, Any] = json.loads(self.config_value)

    def client(self, service: str) -> Any:
        from lambda_jobs import config

        return aws.client(service, config.parse(self.config))

    def lane_url(self, queue: str) -> str:
        return str(self.config["queues"][queue]["lanes"][0]["target"])

    def depth(self, url: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


@pytest.fixture(scope="module")
def ops_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        tmp_path_factory.mktemp("ops-app") / "cdk.out", "python -m tests.tools.ops.ops_app"
    )


@pytest.fixture(scope="module", params=["store", "nostore"])
def local(
    request: pytest.FixtureRequest, ops_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Local]:
    directory = tmp_path_factory.mktemp(request.param)
    ticks = directory / "ticks.log"
    emulator = EmulatorProcess(
        ops_assembly,
        log_path=directory / "emulator.log",
        extra_args=[
            "--stack",
            STACKS[request.param],
            "--schedule-clock-scale",
            str(CLOCK_SCALE),
            "--env",
            f"OPS_TICKS={ticks}",
        ],
    )
    with emulator:
        yield Local(request.param, emulator, ticks)


@pytest.fixture
def ops(
    local: Local,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Local]:
    """The backend with ``LAMBDA_JOBS_CONFIG`` set and its dead-letter queues empty."""
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", local.config_value)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset()
    sqs = local.client("sqs")
    for key in ("dead_letter_queue", "fifo_dead_letter_queue"):
        dlq = local.config[key]
        # Receive and delete (SQS allows one PurgeQueue a minute per queue).
        while page := sqs.receive_message(QueueUrl=dlq["url"], MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in page:
                sqs.delete_message(QueueUrl=dlq["url"], ReceiptHandle=message["ReceiptHandle"])
    yield local
    aws.reset()


def enqueue_failing(capsys: pytest.CaptureFixture[str], task: str, path: Path) -> str:
    """Enqueue ``task(path)`` told to fail; returns the job id once its entry is in a DLQ."""
    Path(f"{path}.fail").touch()
    status, out, err = cli_run(
        capsys,
        "enqueue",
        task,
        "--name-only",
        "--args",
        json.dumps([str(path)]),
        *(["--queue", "ordered"] if task == IN_ORDER else []),
    )
    assert status == 0, err
    job_id = out.strip()
    poll(lambda: listed(capsys, job_id), timeout=60, what=f"job {job_id} in the DLQ")
    return job_id


def listed(capsys: pytest.CaptureFixture[str], job_id: str) -> dict[str, Any] | None:
    found = [j for j in cli_json(capsys, "dlq", "list") if j["job_id"] == job_id]
    return found[0] if found else None


def runs(path: Path) -> int:
    return path.read_text(encoding="utf-8").count("ran ") if path.exists() else 0


def settled(ops: Local, queue: str = "default") -> bool:
    """The lane holds nothing any more: every copy sent to it was run and deleted."""
    return ops.depth(ops.lane_url(queue)) == 0


def dlq_message(ops: Local, url: str, job_id: str) -> dict[str, Any]:
    """The DLQ message of ``job_id`` (left visible)."""
    sqs = ops.client("sqs")
    for _ in range(10):
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        for message in response.get("Messages", []):
            attributes = message.get("MessageAttributes") or {}
            body_id = json.loads(message["Body"]).get("id")
            if job_id in (attributes.get("lambda_jobs.job_id", {}).get("StringValue"), body_id):
                return dict(message)
    raise AssertionError(f"no DLQ message of job {job_id}")


def send_again(ops: Local, message: dict[str, Any], copies: int) -> None:
    """Put ``copies`` more entries like ``message`` in the DLQ, as a duplicate delivery leaves."""
    attributes = {
        name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    for _ in range(copies):
        ops.client("sqs").send_message(
            QueueUrl=ops.config["dead_letter_queue"]["url"],
            MessageBody=message["Body"],
            MessageAttributes=attributes,
        )


def test_a_job_with_three_dlq_entries_is_redriven_once(
    ops: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / f"dup-{uuid.uuid4().hex[:8]}"
    job_id = enqueue_failing(capsys, STEERED, path)
    original = dlq_message(ops, ops.config["dead_letter_queue"]["url"], job_id)
    send_again(ops, original, copies=2)
    entry = poll(
        lambda: (e := listed(capsys, job_id)) is not None and e["entries"] == 3 and e,
        timeout=10,
        what="three entries of the job",
    )
    assert len(entry["message_ids"]) == 3
    status, table, _ = cli_run(capsys, "dlq", "list")
    assert status == 0 and "entries" in table and "3 entries" in table

    Path(f"{path}.fail").unlink()
    report = cli_json(capsys, "dlq", "redrive")
    assert [r["job_id"] for r in report["redriven"]] == [job_id]
    assert [a["job_id"] for a in report["acknowledged"]] == [job_id, job_id]
    assert listed(capsys, job_id) is None
    poll(lambda: runs(path) >= 1 and settled(ops), timeout=60, what="the copy to run")
    assert runs(path) == 1
    if not ops.store:
        return
    job = poll(
        lambda: (j := cli_json(capsys, "jobs", "show", job_id))["status"] == "succeeded" and j,
        timeout=10,
        what="the store to record the success",
    )
    assert job["attempts"] == 1
    # A stale entry of the job arriving later is not run again: the job already succeeded.
    send_again(ops, original, copies=1)
    poll(lambda: listed(capsys, job_id), timeout=10, what="the stale entry")
    # A dry run asks the store too, and answers what the real run then does.
    dry = cli_json(capsys, "dlq", "redrive", "--dry-run")
    assert dry["redriven"] == []
    [would_skip] = dry["skipped"]
    assert would_skip["id"] == job_id and "already succeeded" in would_skip["why"]
    status, out, err = cli_run(capsys, "dlq", "redrive", "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["redriven"] == []
    [skipped] = report["skipped"]
    assert skipped["id"] == job_id and "already succeeded" in skipped["why"]
    assert listed(capsys, job_id) is not None  # left in the DLQ, not lost
    assert settled(ops) and runs(path) == 1
    assert cli_json(capsys, "jobs", "show", job_id)["status"] == "succeeded"


def test_a_redrive_whose_send_fails_leaves_the_job_as_it_was(
    ops: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / f"refused-{uuid.uuid4().hex[:8]}"
    job_id = enqueue_failing(capsys, STEERED, path)
    if ops.store:
        before = poll(
            lambda: (j := cli_json(capsys, "jobs", "show", job_id))["status"] == "failed" and j,
            timeout=10,
            what="the store to record the failure",
        )
    Path(f"{path}.fail").unlink()
    # The lane's queue URL answers QueueDoesNotExist: the copy's send is refused.
    broken = json.loads(ops.config_value)
    lane = broken["queues"]["default"]["lanes"][0]
    lane["target"] += "-gone"
    status, out, err = cli_run(capsys, "dlq", "redrive", "--config", json.dumps(broken), "--json")
    assert status == 1, err
    [failed] = json.loads(out)["failed"]
    assert failed["id"] == job_id and "copy refused" in failed["why"]
    assert listed(capsys, job_id) is not None  # the entry stays in the DLQ
    if ops.store:
        assert "the job store is as it was" in failed["why"]
        after = cli_json(capsys, "jobs", "show", job_id)
        assert (after["status"], after["attempts"]) == ("failed", before["attempts"])
        assert after["finished_at"] == before["finished_at"]
        assert job_id in [j["id"] for j in cli_json(capsys, "jobs", "failures", STEERED)]
        status, _, err = cli_run(capsys, "jobs", "cancel", job_id)
        assert status == 2 and "is already failed" in err
    # Redriven for real: it runs, once.
    report = cli_json(capsys, "dlq", "redrive")
    assert [r["job_id"] for r in report["redriven"]] == [job_id]
    poll(lambda: runs(path) >= 1 and settled(ops), timeout=60, what="the copy to run")
    assert runs(path) == 1


def test_the_fifo_crash_net_dlq_is_counted_listed_shown_and_redriven(
    ops: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifo_dlq = ops.config["fifo_dead_letter_queue"]
    path = tmp_path / f"crash-{uuid.uuid4().hex[:8]}"
    job_id = enqueue_failing(capsys, IN_ORDER, path)
    # Move its message to the FIFO crash-net DLQ as SQS's redrive policy does after 100 receives
    # of a message the function crashed on: the body as it was, no lambda_jobs attributes.
    sqs = ops.client("sqs")
    message = dlq_message(ops, ops.config["dead_letter_queue"]["url"], job_id)
    sqs.delete_message(
        QueueUrl=ops.config["dead_letter_queue"]["url"], ReceiptHandle=message["ReceiptHandle"]
    )
    sqs.send_message(
        QueueUrl=fifo_dlq["url"],
        MessageBody=message["Body"],
        MessageGroupId=IN_ORDER,
        MessageDeduplicationId=job_id,
    )
    name = fifo_dlq["url"].rsplit("/", 1)[-1]

    rows = cli_json(capsys, "status")
    [crash_net] = [r for r in rows if r["lane"] == "fifo crash net"]
    assert (crash_net["queue"], crash_net["target"], crash_net["visible"]) == (
        "(dead letters)",
        name,
        1,
    )
    entry = poll(lambda: listed(capsys, job_id), timeout=10, what="the crash-net entry")
    assert (entry["task"], entry["dead_letter_queue"], entry["entries"]) == (IN_ORDER, name, 1)
    shown = cli_json(capsys, "dlq", "show", job_id)
    assert (shown["queue"], shown["dead_letter_queue"], shown["priority"]) == ("ordered", name, 0)
    status, table, _ = cli_run(capsys, "dlq", "show", job_id)
    assert status == 0
    assert re.search(r"priority\s*│\s*0\s", table), table  # priority 0 is 0, not n/a

    Path(f"{path}.fail").unlink()
    report = cli_json(capsys, "dlq", "redrive", "--task", IN_ORDER)
    assert [(r["job_id"], r["task"]) for r in report["redriven"]] == [(job_id, IN_ORDER)]
    poll(lambda: runs(path) >= 1 and settled(ops, "ordered"), timeout=60, what="the copy to run")
    assert runs(path) == 1
    assert ops.depth(fifo_dlq["url"]) == 0


def test_jobs_failures_shows_only_what_the_index_holds(
    ops: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if not ops.store:
        status, _, err = cli_run(capsys, "jobs", "failures", STEERED)
        assert status == 2 and "has no job store" in err
        return
    job_id = enqueue_failing(capsys, STEERED, tmp_path / "failures")
    [found] = poll(
        lambda: [j for j in cli_json(capsys, "jobs", "failures", STEERED) if j["id"] == job_id],
        timeout=10,
        what="the job in the failures index",
    )
    shown = cli_json(capsys, "jobs", "show", job_id)
    # Nothing the index does not hold is shown, and nothing is filled in with "now".
    assert set(found) == {
        "id",
        "task",
        "queue",
        "status",
        "attempts",
        "finished_at",
        "error_type",
        "error_message",
    }
    assert (found["status"], found["attempts"], found["error_type"]) == (
        "failed",
        1,
        "RuntimeError",
    )
    finished = datetime.fromisoformat(found["finished_at"])
    assert finished == datetime.fromisoformat(shown["finished_at"])
    assert datetime.fromisoformat(shown["enqueued_at"]) <= finished
    status, table, _ = cli_run(capsys, "jobs", "failures", STEERED)
    assert status == 0 and job_id in table and "RuntimeError" in table


def _emulated_now(ops: Local) -> datetime:
    from lambda_jobs_tools.emulator.scheduler import CLOCK_PARAMETER, clock_now

    value = ops.client("ssm").get_parameter(Name=CLOCK_PARAMETER)["Parameter"]["Value"]
    return clock_now(value, datetime.now(UTC))[0]


def _set_state(ops: Local, state: str) -> None:
    """``UpdateSchedule`` of ``ops-tick`` with every field as it is, and ``State``."""
    scheduler = ops.client("scheduler")
    group = ops.config["scheduler"]["group"]
    detail = scheduler.get_schedule(GroupName=group, Name="ops-tick")
    keep = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target")
    scheduler.update_schedule(
        Name="ops-tick",
        GroupName=group,
        State=state,
        **{key: detail[key] for key in keep if key in detail},
    )


def _ticks(ops: Local) -> list[datetime]:
    if not ops.ticks.exists():
        return []
    return [datetime.fromisoformat(line) for line in ops.ticks.read_text().split()]


def test_a_recurring_schedule_fires_nothing_for_its_disabled_time(
    ops: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    if not ops.store:
        pytest.skip("the schedule poller does not depend on the job store: run once")
    _set_state(ops, "ENABLED")
    poll(lambda: len(_ticks(ops)) >= 2, timeout=30, what="two firings")
    # `schedules` shows the next firings on the emulator's clock (an hour ahead per real minute).
    status, out, err = cli_run(capsys, "schedules", "--json")
    assert status == 0, err
    assert "lambda-jobs local's schedule clock (60 x real time" in err
    [row] = json.loads(out)
    emulated = _emulated_now(ops)
    first = datetime.fromisoformat(row["next"][0].replace("Z", "+00:00"))
    assert emulated - timedelta(minutes=2) < first <= emulated + timedelta(minutes=2)

    _set_state(ops, "DISABLED")
    disabled_at = _emulated_now(ops)
    poll(
        lambda: _emulated_now(ops) > disabled_at + timedelta(minutes=5),
        timeout=30,
        what="five emulated minutes",
    )
    enabled_at = _emulated_now(ops)
    _set_state(ops, "ENABLED")
    poll(
        lambda: any(t > enabled_at for t in _ticks(ops)),
        timeout=30,
        what="a firing after the schedule was enabled again",
    )
    _set_state(ops, "DISABLED")
    # A firing due just before the poller saw the change may still go (AWS fires within a
    # minute too); none of the four or five due while it was disabled is made up.
    missed = [t for t in _ticks(ops) if disabled_at + timedelta(minutes=1) < t < enabled_at]
    assert missed == [], f"{len(missed)} firings of the disabled time were made up"
