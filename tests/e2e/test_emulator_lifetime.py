"""``lambda-jobs local`` starts what it should, refuses what it cannot run, and leaves nothing
behind however it ends.

- Every process it starts (moto, the awslambdaric environments, a task's own subprocess) ends
  with it: on SIGHUP (the terminal closed) as on SIGINT/SIGTERM, and on SIGKILL (its watchdog).
- An incomplete ``cdk.out`` (templates without the ``asset.*`` folders) is refused, naming what
  is missing; a task module changed after the synth is named at start.
- ``--stack`` naming a stack without a backend is refused, naming it.
- Its Scheduler answers an unknown schedule group as AWS does (``ResourceNotFoundException``,
  404, not retried), so ``EnqueueError`` carries AWS's words.

One app (``tests/e2e/lifetime_app.py``, from a copy of its project) is synthesized per module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import lambda_jobs
import pytest
from botocore.exceptions import ClientError
from lambda_jobs import aws
from lambda_jobs_tools.emulator.process import EmulatorProcess
from lambda_jobs_tools.ops.enqueue_command import name_only_task

from tests.e2e.conftest import poll, synthesize
from tests.e2e.lifetime_app import EMPTY_STACK, LIFETIME_PROJECT, STACK
from tests.e2e.test_processes import _alive, _descendants

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<dir>/project`` (a copy of the lifetime project), ``<dir>/cdk.out`` synthesized from it."""
    directory = tmp_path_factory.mktemp("lifetime")
    shutil.copytree(LIFETIME_PROJECT, directory / "project")
    synthesize(
        directory / "cdk.out", app=f"python -m tests.e2e.lifetime_app {directory / 'project'}"
    )
    return directory


@pytest.fixture(scope="module")
def emulator(synthesized: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        synthesized / "cdk.out",
        log_path=synthesized / "emulator.log",
        extra_args=["--stack", STACK],
    ) as running:
        yield running


def _local(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``lambda-jobs local`` that is expected to refuse to start (so it exits by itself)."""
    return subprocess.run(
        [sys.executable, "-m", "lambda_jobs_tools.cli", "local", "--app", str(app), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL], ids=["SIGHUP", "SIGKILL"])
def test_every_process_ends_with_the_emulator(
    sig: signal.Signals, synthesized: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = EmulatorProcess(
        synthesized / "cdk.out", log_path=tmp_path / "emulator.log", extra_args=["--stack", STACK]
    )
    with running:
        monkeypatch.setenv("LAMBDA_JOBS_CONFIG", running.configs["goat"])
        aws.reset()
        pid_file = tmp_path / "child.pid"
        name_only_task("lifetime_tasks.spawn").enqueue(str(pid_file))
        poll(pid_file.exists, timeout=30, what="the task to start its own subprocess")
        grandchild = int(pid_file.read_text())
        processes = _descendants(running.pid) | {grandchild}
        assert grandchild in _descendants(running.pid)  # the task's sleep, under awslambdaric
        assert len(processes) >= 3, "moto, an environment and the task's sleep at least"
        status = running.stop(sig)
        assert status == (0 if sig == signal.SIGHUP else -signal.SIGKILL)
    poll(
        lambda: not [pid for pid in processes if _alive(pid)],
        timeout=15,
        what="every process the emulator started to end",
    )
    aws.reset()


def test_an_incomplete_cdk_out_is_refused_naming_what_is_missing(
    synthesized: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "cdk.out"
    shutil.copytree(synthesized / "cdk.out", broken, ignore=shutil.ignore_patterns("asset.*"))
    result = _local(broken, "--stack", STACK)
    assert result.returncode == 1
    assert "ready" not in result.stderr
    assert f"{broken.resolve()} is incomplete" in result.stderr
    assert "image asset folder(s) asset." in result.stderr
    assert "run `cdk synth` again" in result.stderr


def test_a_task_module_changed_after_the_synth_is_named(synthesized: Path, tmp_path: Path) -> None:
    copy = tmp_path / "app"
    shutil.copytree(synthesized / "cdk.out", copy / "cdk.out")  # keeps the synth's mtimes
    shutil.copytree(synthesized / "project", copy / "project")
    module = copy / "project" / "lifetime_tasks.py"
    module.write_text(
        module.read_text() + "\n\n@task\ndef added_after_synth() -> None:\n    pass\n"
    )
    later = (copy / "cdk.out" / "manifest.json").stat().st_mtime + 60
    os.utime(module, (later, later))
    with EmulatorProcess(
        copy / "cdk.out", log_path=tmp_path / "emulator.log", extra_args=["--stack", STACK]
    ):
        log = (tmp_path / "emulator.log").read_text()
    assert f"warning: {module.resolve()} changed after {copy / 'cdk.out'} was synthesized" in log
    assert "run `cdk synth` again" in log
    assert "lifetime_project" not in log  # the repository's copy is the synthesized one


def test_a_stack_without_a_backend_is_refused(synthesized: Path) -> None:
    result = _local(synthesized / "cdk.out", "--stack", EMPTY_STACK)
    assert result.returncode == 1
    assert f"no lambda-jobs backend in stack(s) {EMPTY_STACK}" in result.stderr
    assert "ready" not in result.stderr


def test_an_unknown_schedule_group_is_resource_not_found_as_on_aws(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    config: dict[str, Any] = json.loads(emulator.configs["goat"])
    client = boto3.client(
        "scheduler",
        endpoint_url=config["endpoints"]["scheduler"],
        region_name=config["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError) as raised:
        client.create_schedule(
            Name=f"x-{uuid.uuid4().hex[:8]}",
            GroupName="nope",
            ScheduleExpression="at(2030-01-01T00:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": config["dead_letter_queue"]["arn"], "RoleArn": "arn:aws:iam::1:role/r"},
        )
    response = raised.value.response
    assert response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "Schedule group nope does not exist.",
    }
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResponseMetadata"]["RetryAttempts"] == 0  # a client error: not retried

    wrong = {**config, "scheduler": {**config["scheduler"], "group": "nope"}}
    monkeypatch.setenv("LAMBDA_JOBS_CONFIG", json.dumps(wrong))
    aws.reset()
    started = time.monotonic()
    hello = name_only_task("lifetime_tasks.hello").using(run_after=timedelta(hours=1))
    with pytest.raises(lambda_jobs.EnqueueError) as failed:
        hello.enqueue("x")
    assert time.monotonic() - started < 10  # no five slow retries of a 500
    text = str(failed.value)
    assert "ResourceNotFoundException" in text and "Schedule group nope does not exist." in text
    assert "<html" not in text.lower()
    aws.reset()
