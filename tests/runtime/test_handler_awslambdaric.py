"""The handler under the real awslambdaric, as Lambda runs the image's CMD.

``python -m awslambdaric lambda_jobs.handler.handle`` runs as a child process against the test's
:class:`~lambda_jobs_tools.emulator.runtime_api.RuntimeApi`; moto is its AWS. Pinned behaviour: the
handler runs under awslambdaric (SQS batch and async payload), the per-task timeout works there
(the handler runs in the main thread), a task module that cannot be imported is an init error
that names it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_jobs_tools.emulator.motoserver import MotoServer
from lambda_jobs_tools.emulator.runtime_api import RuntimeApi

from tests.conftest import boto_client
from tests.runtime import lambda_events as ev

REPO = Path(__file__).resolve().parents[2]
TASKS = "tests.runtime.sample_tasks"
T = f"{TASKS}."


class Function:
    """One execution environment: a Runtime API and the awslambdaric process polling it."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.api = RuntimeApi()
        self.stdout_path = tmp_path / "function-stdout.log"
        self._stdout = self.stdout_path.open("wb")
        lambda_env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": "jobs-default",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/jobs-default",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/27/[$LATEST]0123456789abcdef",
            "LAMBDA_TASK_ROOT": str(REPO),
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "_HANDLER": "lambda_jobs.handler.handle",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "lambda_jobs.handler.handle"],
            env=lambda_env,
            cwd=str(REPO),
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
        )

    def invoke(self, event: Any, timeout_s: float = 20) -> Any:
        result = self.api.invoke(
            json.dumps(event).encode(), timeout_s=timeout_s, function_arn=ev.FUNCTION_ARN
        )
        assert result.ok, f"{result!r}: {result.body!r}\n{self.stdout_path.read_text()}"
        return result.json()

    def job_lines(self) -> list[dict[str, Any]]:
        lines = self.stdout_path.read_text().splitlines()
        return [json.loads(x) for x in lines if x.startswith('{"type": "lambda_jobs.job"')]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.api.close()
        self._stdout.close()


@pytest.fixture
def aws_env(moto: MotoServer) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": ev.REGION,
        "AWS_DEFAULT_REGION": ev.REGION,
        "AWS_ENDPOINT_URL": moto.url,
    }


@pytest.fixture
def goat_function(
    moto: MotoServer, aws_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[Function, Any, tuple[str, str], str]]:
    sqs = boto_client(moto, "sqs")
    queue = ev.make_queue(sqs, "jobs")
    dlq_url, _ = ev.make_queue(sqs, "jobs-dlq")
    function = Function(
        tmp_path, {**aws_env, "LAMBDA_JOBS_TASKS": TASKS, "LAMBDA_JOBS_DLQ_URL": dlq_url}
    )
    yield function, sqs, queue, dlq_url
    function.close()


def test_sqs_batch_runs_under_awslambdaric(goat_function, tmp_path: Path):
    function, sqs, (url, arn), dlq_url = goat_function
    ev.send(
        sqs,
        url,
        ev.envelope(T + "write_file", str(tmp_path / "ok"), "from lambda").to_json(),
        ev.envelope(T + "always_fail", str(tmp_path / "runs")).to_json(),
    )
    event = ev.sqs_event(sqs, url, arn, 2)
    assert function.api.wait_for_init(30), function.api.init_error
    assert function.invoke(event) == {"batchItemFailures": []}
    assert (tmp_path / "ok").read_text() == "from lambda"
    [entry] = ev.dead_letters(sqs, dlq_url, 1)
    assert entry["reason"] == "exhausted"
    assert entry["error_type"] == "ValueError"
    assert [line["outcome"] for line in function.job_lines()] == ["succeeded", "dead_lettered"]


def test_async_payload_runs_under_awslambdaric(goat_function, tmp_path: Path):
    function = goat_function[0]
    job = ev.envelope(T + "write_file", str(tmp_path / "lamb"), "async")
    assert function.invoke(job.to_dict()) == {"job_id": job.id, "outcome": "succeeded"}
    assert (tmp_path / "lamb").read_text() == "async"


def test_task_timeout_is_enforced_under_awslambdaric(goat_function, tmp_path: Path):
    function, sqs, (url, arn), dlq_url = goat_function
    ev.send(sqs, url, ev.envelope(T + "sleep_past_timeout", str(tmp_path / "trace"), 30).to_json())
    result = function.invoke(ev.sqs_event(sqs, url, arn, 1), timeout_s=10)
    assert result == {"batchItemFailures": []}
    assert (tmp_path / "trace").read_text().splitlines() == ["started"]
    [entry] = ev.dead_letters(sqs, dlq_url, 1)
    assert entry["error_type"] == "lambda_jobs.errors.JobTimeoutError"


def test_missing_task_module_is_an_init_error_naming_it(aws_env: dict[str, str], tmp_path: Path):
    function = Function(tmp_path, {**aws_env, "LAMBDA_JOBS_TASKS": "tests.runtime.no_such_tasks"})
    try:
        assert not function.api.wait_for_init(30)
        error = function.api.init_error
        assert error is not None
        assert error.error_type == "ConfigurationError"
        assert "could not import task module 'tests.runtime.no_such_tasks'" in error.message
        assert function.process.wait(timeout=10) != 0
    finally:
        function.close()


def test_unset_tasks_variable_is_an_init_error_naming_it(aws_env: dict[str, str], tmp_path: Path):
    function = Function(tmp_path, aws_env)
    try:
        assert not function.api.wait_for_init(30)
        assert function.api.init_error is not None
        assert "LAMBDA_JOBS_TASKS is not set" in function.api.init_error.message
    finally:
        function.close()
