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

from tests.e2e.conftest import Backend, _start, poll, synthesize
from tests.ops.conftest import cli_json, cli_run

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

    # It runs again from attempt 1: two more runs, then back in the DLQ at attempts 2 (not 4).
    poll(
        lambda: len(backend.events(task="failing", event="failed", message=marker)) == 4,
        timeout=60,
        what="the redriven job's two new runs",
    )
    again = poll(lambda: listed(capsys, job_id), timeout=60, what="the job back in the DLQ")
    assert again["attempts"] == 2


@pytest.mark.parametrize("local_backend", ["lamb"], indirect=True)
def test_lamb_crash_destination_record_is_listed_and_redriven_to_its_function(
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
    for attempt in range(1, 4):  # the first run and Lambda's two async retries all crash

        def nth_start(n: int = attempt) -> list[dict[str, Any]]:
            return backend.events(task="slow", seconds=seconds, event="started")[n - 1 :]

        started = poll(nth_start, timeout=30, what=f"try {attempt} to start")
        os.kill(started[0]["pid"], signal.SIGKILL)
    entry = poll(lambda: listed(capsys, job_id), timeout=30, what="the destination record")
    assert (entry["reason"], entry["error_type"]) == ("RetriesExhausted", "Runtime.ExitError")
    assert entry["attempts"] == 3
    shown = cli_json(capsys, "dlq", "show", job_id)
    assert shown["format"] == "lambda_destination"

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
