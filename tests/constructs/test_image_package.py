"""The staged build context installs and runs: what the Dockerfile does, without Docker.

Acceptance point: "build it into a temporary LAMBDA_TASK_ROOT with pip (what the Dockerfile does)
and start the CMD's handler under awslambdaric against it". The test runs the Dockerfile's steps:
``pip install --target <root> -r requirements.txt``, ``pip install --no-deps --target <root>
./runtime`` (one command here: the demo's requirements are a placeholder) and ``COPY project/
<root>/``. Differences, because no image is built here: boto3 and awslambdaric, which the Lambda
base image provides, come from this venv's site-packages, and pip builds the runtime copy with
setuptools fetched by pip's build isolation from the configured package index. Then the image's
CMD (``python -m awslambdaric lambda_jobs.handler.handle``) runs against the emulator's Runtime
API server and an async-invoke payload for the demo's ``hello`` task must succeed, with
``lambda_jobs`` imported from the root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lambda_jobs.envelope import Envelope
from lambda_jobs_tools.emulator.runtime_api import RuntimeApi

from stacks.demo_code import demo_code

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:package-test"


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = demo_code().directory
    root = tmp_path_factory.mktemp("task-root")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-cache-dir",
            "--no-deps",
            "--target",
            str(root),
            "-r",
            str(context / "requirements.txt"),
            str(context / "runtime"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shutil.copytree(context / "project", root, dirs_exist_ok=True)
    return root


def function_env(root: Path, log: Path, api_address: str = "") -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(root),
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(root),
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_LAMBDA_FUNCTION_NAME": "package-test",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/package-test",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local/package-test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "LAMBDA_JOBS_TASKS": "demo_tasks",
        "LAMBDA_JOBS_BACKEND": "lamb",
        "LAMBDA_JOBS_DLQ_URL": "http://127.0.0.1:9/000000000000/unused-dlq",
        "LAMBDA_JOBS_SCHEDULER_GROUP": "unused",
        "LAMBDA_JOBS_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/unused",
        "LAMBDA_JOBS_DEMO_LOG": str(log),
    }


@contextlib.contextmanager
def lambda_runtime(root: Path, log: Path) -> Iterator[RuntimeApi]:
    with RuntimeApi() as api:
        process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "lambda_jobs.handler.handle"],
            cwd=root,
            env=function_env(root, log, api.address),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield api
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate(timeout=10)
            if output:
                sys.stdout.write(output.decode("utf-8", "replace"))


def test_runtime_and_project_install_into_a_task_root_and_import_from_it(
    task_root: Path, tmp_path: Path
) -> None:
    assert (task_root / "lambda_jobs" / "handler.py").is_file()
    assert (task_root / "demo_tasks.py").is_file()
    assert list(task_root.glob("lambda_jobs-*.dist-info"))
    # The tools (emulator, operations commands, console script) are lambda-jobs-tools: never here.
    package = task_root / "lambda_jobs"
    assert not [p for p in ("emulator", "ops", "cli.py") if (package / p).exists()]
    assert not list(task_root.glob("lambda_jobs_tools*"))
    assert not (task_root / "bin").exists()
    probe = subprocess.run(
        [sys.executable, "-c", "import lambda_jobs, demo_tasks; print(lambda_jobs.__file__)"],
        cwd=task_root,
        env=function_env(task_root, tmp_path / "log"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()).is_relative_to(task_root)


def test_image_cmd_under_awslambdaric_runs_an_async_invoke_of_hello(
    task_root: Path, tmp_path: Path
) -> None:
    log = tmp_path / "demo-log.jsonl"
    envelope = Envelope(
        id=uuid.uuid4().hex,
        task="demo_tasks.hello",
        kwargs={"name": "package"},
        enqueued_at=datetime.now(UTC),
    )
    with lambda_runtime(task_root, log) as api:
        assert api.wait_for_init(30), api.init_error
        result = api.invoke(envelope.to_json().encode(), timeout_s=60, function_arn=FUNCTION_ARN)
    assert result.ok, result.body[-2000:]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["task"], line["event"], line["greeting"]) for line in lines] == [
        ("hello", "succeeded", "Hello, package!")
    ]
