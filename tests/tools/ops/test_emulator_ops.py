"""The operations commands against ``lambda-jobs local`` running the synthesized demo app.

Pinned behaviour: against the local emulator, for both backends, a failing job
lands in the DLQ, ``dlq list`` shows it, ``status`` counts it, ``dlq redrive`` brings it back with
the attempt counter reset, and it runs again (the demo task's own log shows the new runs).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs import aws

from tests.e2e.conftest import OPERATOR_ROLE, Backend, _start, poll, synthesize
from tests.tools.ops.conftest import cli_json, cli_run

FAILING = "demo_tasks.failing"  # retries=1, retry_backoff=1: two attempts, then the DLQ


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    given = os.environ.get("LAMBDA_JOBS_E2E_APP")
    return Path(given) if given else synthesize(tmp_path_factory.mktemp("ops") / "cdk.out")


@pytest.fixture(scope="module", params=["goat", "lamb"])
def local_backend(
    request: pytest.FixtureRequest, assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    emulator, demo_log = _start(request.param, assembly, tmp_path_factory.mktemp(request.param))
    with emulator:
        yield Backend(request.param, emulator, demo_log)


@pytest.fixture
def backend(local_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", local_backend.config_value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # The commands run as the demo's role given grant_operate (IAM judged by the emulator).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", OPERATOR_ROLE)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    aws.reset()
    return local_backend


def listed(capsys: pytest.CaptureFixture[str], job_id: str) -> dict[str, Any] | None:
    found = [j for j in cli_json(capsys, "dlq", "list") if j["job_id"] == job_id]
    return found[0] if found else None


def test_failed_job_is_listed_counted_redriven_and_runs_again_under_the_emulator(
    backend: Backend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    marker = f"ops-{uuid.uuid4()}"
    status, out, err = cli_run(
        capsys, "enqueue", FAILING, "--kwargs", json.dumps({"message": marker})
    )
    assert status == 0, err
    job_id = out.strip()

    entry = poll(lambda: listed(capsys, job_id), timeout=60, what="the job in the DLQ")
    assert entry["task"] == FAILING
    assert entry["attempts"] == 2
    assert entry["error_type"] == "RuntimeError" and entry["error_message"] == marker
    assert len(backend.events(task="failing", event="failed", message=marker)) == 2
    # The job store says so too, and lists it among the task's latest failures.
    shown = cli_json(capsys, "jobs", "show", job_id)
    assert (shown["status"], shown["attempts"], shown["error_message"]) == ("failed", 2, marker)
    failures = poll(
        lambda: [j for j in cli_json(capsys, "jobs", "failures", FAILING) if j["id"] == job_id],
        timeout=10,
        what="the job in the failures index",
    )
    assert failures[0]["error_type"] == "RuntimeError"

    rows = cli_json(capsys, "status")
    dead = [r for r in rows if r["queue"] == "(dead letters)"]
    assert dead and dead[0]["visible"] >= 1
    assert {r["queue"] for r in rows if r["queue"] != "(dead letters)"} == set(
        backend.config["queues"]
    )

    report = cli_json(
        capsys, "dlq", "redrive", "--task", FAILING, "--journal", str(tmp_path / "journal")
    )
    assert job_id in [r["job_id"] for r in report["redriven"]]
    assert listed(capsys, job_id) is None
    # Redrive set the job back to enqueued (attempt 0) before sending it, so it runs again
    # instead of being skipped as a finished duplicate.
    assert cli_json(capsys, "jobs", "show", job_id)["status"] in ("enqueued", "running", "retrying")

    # It runs again from attempt 1: two more runs, then back in the DLQ at attempts 2 (not 4).
    poll(
        lambda: len(backend.events(task="failing", event="failed", message=marker)) == 4,
        timeout=60,
        what="the redriven job's two new runs",
    )
    again = poll(lambda: listed(capsys, job_id), timeout=60, what="the job back in the DLQ")
    assert again["attempts"] == 2
    poll(
        lambda: cli_json(capsys, "jobs", "show", job_id)["status"] == "failed",
        timeout=10,
        what="the store to record the second failure",
    )
    assert cli_json(capsys, "jobs", "show", job_id)["attempts"] == 2


def test_jobs_commands_show_cancel_and_refuse_clearly(
    backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = cli_run(capsys, "jobs", "show", "no-such-job")
    assert status == 2 and "lambda-jobs jobs show: error: no job 'no-such-job'" in err
    status, _, err = cli_run(capsys, "jobs", "failures", FAILING, "--limit", "0")
    assert status == 2 and "--limit must be a whole number 1..1000, got '0'" in err
    status, out, err = cli_run(
        capsys, "enqueue", "demo_tasks.hello", "--delay", "30s", "--kwargs", '{"name": "x"}'
    )
    assert status == 0, err
    job_id = out.strip()
    status, _, err = cli_run(capsys, "jobs", "cancel", job_id)
    assert status == 0 and "is cancelled: it will not run" in err
    assert cli_json(capsys, "jobs", "show", job_id)["status"] == "cancelled"
    status, _, err = cli_run(capsys, "jobs", "cancel", job_id)
    assert status == 2 and "is already cancelled" in err


@pytest.mark.parametrize("local_backend", ["lamb"], indirect=True)
def test_lamb_crashed_attempts_end_in_the_dlq_and_are_redriven_to_its_function(
    backend: Backend, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    import os
    import signal

    seconds = 1.0 + uuid.uuid4().int % 1000 / 10_000  # unique, to find this job's events
    status, out, err = cli_run(
        capsys, "enqueue", "demo_tasks.slow", "--kwargs", json.dumps({"seconds": seconds})
    )
    assert status == 0, err
    job_id = out.strip()
    for attempt in range(1, 3):  # both attempts of slow (retries=1) crash

        def nth_start(n: int = attempt) -> list[dict[str, Any]]:
            return backend.events(task="slow", seconds=seconds, event="started")[n - 1 :]

        started = poll(nth_start, timeout=30, what=f"try {attempt} to start")
        os.kill(started[0]["pid"], signal.SIGKILL)
    # The job store counts crashed attempts: Lambda's last retry is dead-lettered unrun (without a
    # store it would run and crash a third time and end as a destination record).
    entry = poll(lambda: listed(capsys, job_id), timeout=30, what="the DLQ entry")
    assert (entry["reason"], entry["error_type"]) == ("exhausted", "IncompleteAttempts")
    assert entry["attempts"] == 3

    report = cli_json(
        capsys, "dlq", "redrive", "--task", "demo_tasks.slow", "--journal", str(tmp_path / "j")
    )
    assert [r["job_id"] for r in report["redriven"]] == [job_id]
    poll(
        lambda: backend.events(task="slow", seconds=seconds, event="finished"),
        timeout=30,
        what="the redriven job to run to the end",
    )
    assert listed(capsys, job_id) is None
    poll(
        lambda: cli_json(capsys, "jobs", "show", job_id)["status"] == "succeeded",
        timeout=10,
        what="the store to record the success",
    )


def test_every_operations_command_runs_as_the_role_given_grant_operate(
    backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    """``status``, ``schedules list|run``, ``dlq list|show|purge`` as ``OperatorRole`` (the
    fixture's key); the rest run as it in the tests above. The emulator would deny what it lacks."""
    marker = f"operate-{uuid.uuid4()}"
    status, out, err = cli_run(
        capsys, "enqueue", FAILING, "--kwargs", json.dumps({"message": marker})
    )
    assert status == 0, err
    job_id = out.strip()
    poll(lambda: listed(capsys, job_id), timeout=60, what="the job in the DLQ")
    assert cli_json(capsys, "dlq", "show", job_id)["job_id"] == job_id
    assert cli_json(capsys, "status")
    schedules = cli_json(capsys, "schedules", "list")
    assert [s for s in schedules if "demo" in json.dumps(s)]
    tick = f"{backend.name}-tick"  # the demo's recurring schedule (stacks/demo_code.py)
    status, out, err = cli_run(capsys, "schedules", "run", tick)
    assert status == 0, err
    ticked = out.strip()
    poll(
        lambda: backend.events(task="tick", job_id=ticked),
        timeout=30,
        what="the job `schedules run` enqueued to run",
    )
    status, _, err = cli_run(capsys, "dlq", "purge", "--yes")
    assert status == 0, err
    assert listed(capsys, job_id) is None
    log = backend.emulator.log_path.read_text(encoding="utf-8").splitlines()
    assert [line for line in log if "denied:" in line and "OperatorRole" in line] == []
